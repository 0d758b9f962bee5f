import re

from hypothesis import given
from hypothesis import strategies as st

from privacy.minimization import minimize_context, minimize_properties, scrub_text, strip_url, truncate_ip

EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+")
LONG_DIGITS = re.compile(r"(?:\d[\s\-.()]?){7,}")

emails = st.from_regex(r"[a-z][a-z0-9._]{0,15}@[a-z]{2,10}\.(com|org|co\.uk|de)", fullmatch=True)
phones = st.from_regex(r"(\+|00)[1-9]\d{1,2}[ \-]?\d{2,4}[ \-]?\d{3,4}[ \-]?\d{3,4}", fullmatch=True)
cards = st.from_regex(r"4\d{3}([ \-]?\d{4}){3}", fullmatch=True)
filler = st.text(alphabet=st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=40)


@given(before=filler, pii=st.one_of(emails, phones, cards), after=filler)
def test_no_email_phone_or_card_survives_scrubbing(before: str, pii: str, after: str) -> None:
    scrubbed, removed = scrub_text(f"{before} {pii} {after}")
    assert removed >= 1
    assert not EMAIL.search(scrubbed)
    assert not LONG_DIGITS.search(scrubbed)


@given(pii=st.one_of(emails, phones, cards), key=st.sampled_from(["query", "note", "title"]))
def test_no_pii_survives_in_nested_properties(pii: str, key: str) -> None:
    cleaned, _ = minimize_properties({key: {"items": [f"see {pii}"]}}, None)
    text = str(cleaned)
    assert not EMAIL.search(text)
    assert not LONG_DIGITS.search(text)


def test_ordinary_numbers_and_words_are_kept() -> None:
    assert scrub_text("size 42, 19.99 EUR, 3 items") == ("size 42, 19.99 EUR, 3 items", 0)


def test_properties_outside_the_allow_list_are_dropped_and_counted() -> None:
    kept, dropped = minimize_properties(
        {"sku": "S1", "secret": "x", "price": 10}, frozenset({"sku", "price"})
    )
    assert (kept, dropped) == ({"sku": "S1", "price": 10}, 1)


def test_a_key_that_is_an_email_address_is_dropped() -> None:
    kept, dropped = minimize_properties({"ana@example.com": True}, None)
    assert (kept, dropped) == ({}, 1)


def test_ipv4_is_truncated_to_its_24() -> None:
    assert truncate_ip("203.0.113.77") == "203.0.113.0"


def test_ipv6_is_truncated_to_its_48() -> None:
    assert truncate_ip("2001:db8:abcd:12:1:2:3:4") == "2001:db8:abcd::"


def test_an_invalid_ip_is_not_kept() -> None:
    assert truncate_ip("not-an-ip") is None


def test_urls_keep_host_path_and_utm_parameters_only() -> None:
    assert (
        strip_url("https://user:pw@shop.example:8443/p/shoes?q=ana&utm_source=news&utm_medium=email#top")
        == "https://shop.example/p/shoes?utm_source=news&utm_medium=email"
    )


def test_context_keeps_what_analytics_needs_and_drops_the_rest() -> None:
    context = {
        "ip": "198.51.100.23",
        "page": {"url": "https://s.example/a?email=ana@example.com", "referrer": "https://google.com/?q=x"},
        "campaign": {"source": "news", "medium": "email", "name": "spring"},
        "traits": {"email": "ana@example.com"},
        "device": {"type": "mobile", "advertisingId": "abc-123"},
        "consent": {"categoryPreferences": {"analytics": True}},
    }
    kept, dropped = minimize_context(context)
    assert kept == {
        "ip": "198.51.100.0",
        "page": {"url": "https://s.example/a", "referrer": "https://google.com/"},
        "campaign": {"source": "news", "medium": "email", "name": "spring"},
        "device": {"type": "mobile"},
    }
    assert dropped == 2
