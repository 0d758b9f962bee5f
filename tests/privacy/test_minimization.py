import ipaddress
import json
import re
import time
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from privacy.minimization import (
    MAX_TEXT,
    REMOVED,
    minimize_context,
    minimize_properties,
    scrub_text,
    strip_url,
    truncate_ip,
)

# Independent oracles: what must never be found in the output.
EMAIL_FOUND = re.compile(r"[\w.%+'\-]+@[\w\-]+(?:\.[\w\-]+)+")
SEVEN_DIGITS_FOUND = re.compile(r"\d(?:[ \-.()]?\d){6,}")


@st.composite
def _grouped(draw: st.DrawFn, digits: str, separators: tuple[str, ...]) -> str:
    """The digits split into random groups joined by random separators, as people type numbers."""
    out = digits[0]
    for digit in digits[1:]:
        out += draw(st.sampled_from(separators)) + digit
    return out


def _digits(low: int, high: int, first: str = "0123456789") -> st.SearchStrategy[str]:
    return st.builds(
        lambda head, tail: head + tail,
        st.sampled_from(first),
        st.text(alphabet="0123456789", min_size=low - 1, max_size=high - 1),
    )


ascii_emails = st.from_regex(
    r"[a-z0-9][a-z0-9._%+\-']{0,15}@[a-z0-9\-]{1,10}(\.[a-z]{2,6}){1,2}", fullmatch=True
)
unicode_emails = st.builds(
    lambda local, domain, tld: f"{local}@{domain}.{tld}",
    st.text(st.characters(categories=["Ll", "Lu", "Nd"]), min_size=1, max_size=10),
    st.text(st.characters(categories=["Ll", "Nd"]), min_size=1, max_size=10),
    st.sampled_from(["com", "de", "рф", "中国"]),
)
international_phones = st.builds(
    lambda prefix, number: prefix + number,
    st.sampled_from(["+", "+ ", "00"]),
    _digits(8, 15, first="123456789").flatmap(lambda d: _grouped(d, ("", "", " ", "-", ".", ") ", " ("))),
)
national_phones = _digits(7, 12).flatmap(lambda d: _grouped(d, ("", "", " ", "-", ".", "/", ") ")))
cards = _digits(13, 19, first="3456").flatmap(lambda d: _grouped(d, ("", "", "", " ", "-")))
pii = st.one_of(ascii_emails, unicode_emails, international_phones, national_phones, cards)
filler = st.text(st.characters(exclude_categories=["Cc", "Cs"]), max_size=40)


def _clean(text: str) -> bool:
    return not EMAIL_FOUND.search(text) and not SEVEN_DIGITS_FOUND.search(text)


# IP addresses


def test_ipv4_is_truncated_to_its_24() -> None:
    assert truncate_ip("203.0.113.77") == "203.0.113.0"


def test_ipv6_is_truncated_to_its_48_in_compressed_form() -> None:
    assert truncate_ip("2001:0db8:abcd:0012:0001:0002:0003:0004") == "2001:db8:abcd::"


def test_an_ipv4_mapped_ipv6_address_is_truncated_as_ipv4() -> None:
    assert truncate_ip("::ffff:203.0.113.77") == "203.0.113.0"


def test_an_ipv6_zone_id_is_dropped_with_the_host_bits() -> None:
    assert truncate_ip("fe80::1:2:3:4%eth0") == "fe80::"


def test_surrounding_whitespace_is_ignored() -> None:
    assert truncate_ip(" 198.51.100.23\n") == "198.51.100.0"


@pytest.mark.parametrize("value", ["not-an-ip", "", "203.0.113.7:443", "203.0.113", "203.0.113.7, 10.0.0.1"])
def test_anything_but_one_address_is_not_kept(value: str) -> None:
    assert truncate_ip(value) is None


@given(address=st.ip_addresses(v=4))
def test_a_truncated_ipv4_address_is_the_network_of_its_24(address: ipaddress.IPv4Address) -> None:
    assert truncate_ip(str(address)) == str(
        ipaddress.ip_network(f"{address}/24", strict=False).network_address
    )


@given(address=st.ip_addresses(v=6).filter(lambda a: a.ipv4_mapped is None))
def test_a_truncated_ipv6_address_is_the_network_of_its_48(address: ipaddress.IPv6Address) -> None:
    assert truncate_ip(str(address)) == str(
        ipaddress.ip_network(f"{address}/48", strict=False).network_address
    )


# URLs


def test_a_url_keeps_scheme_host_path_and_utm_parameters_only() -> None:
    url = "https://user:pw@shop.example:8443/p/shoes?q=ana&utm_source=news&utm_medium=email#top"
    assert strip_url(url) == "https://shop.example/p/shoes?utm_source=news&utm_medium=email"


def test_the_host_is_lower_cased() -> None:
    assert strip_url("HTTPS://Shop.Example/P") == "https://shop.example/P"


def test_a_referrer_keeps_its_host_for_channel_analytics() -> None:
    assert strip_url("https://www.google.com/search?q=red+shoes") == "https://www.google.com/search"


def test_an_address_in_the_path_is_removed() -> None:
    assert (
        strip_url("https://s.example/users/ana@example.com/orders")
        == "https://s.example/users/%5Bremoved%5D/orders"
    )


def test_a_percent_encoded_address_in_the_path_is_removed() -> None:
    assert strip_url("https://s.example/u/ana%2540example.com") == "https://s.example/u/%5Bremoved%5D"


def test_pii_in_a_utm_value_is_removed() -> None:
    assert (
        strip_url("https://s.example/?utm_term=ana@example.com")
        == "https://s.example/?utm_term=%5Bremoved%5D"
    )


def test_matrix_parameters_such_as_session_ids_are_dropped() -> None:
    assert strip_url("https://s.example/cart;jsessionid=A1B2C3") == "https://s.example/cart"


def test_an_address_as_host_is_truncated() -> None:
    assert strip_url("http://203.0.113.77/admin") == "http://203.0.113.0/admin"


def test_an_ipv6_host_is_truncated_and_bracketed() -> None:
    assert strip_url("http://[2001:db8:1:2::5]:8080/x") == "http://[2001:db8:1::]/x"


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "/p/shoes",
        "shop.example/p",
        "mailto:ana@example.com",
        "javascript:alert(1)",
        "http://[::1/",
    ],
)
def test_what_is_not_an_absolute_url_with_a_host_is_not_kept(url: str) -> None:
    assert strip_url(url) is None


def test_a_url_with_an_invalid_port_is_not_kept() -> None:
    assert strip_url("https://s.example:99999999/") is None


def test_an_oversized_url_is_not_kept() -> None:
    assert strip_url("https://s.example/" + "a" * 10_000) is None


@given(
    host=st.from_regex(r"[a-z]{1,10}(\.[a-z]{2,5}){1,2}", fullmatch=True),
    path=st.text(max_size=20),
    params=st.lists(
        st.tuples(st.sampled_from(["utm_source", "utm_x", "q", "email", "UTM_Term", "id"]), st.text())
    ),
    fragment=st.text(max_size=10),
)
def test_only_utm_parameters_ever_survive(
    host: str, path: str, params: list[tuple[str, str]], fragment: str
) -> None:
    from urllib.parse import quote, urlencode

    url = f"https://u:p@{host}:81/{quote(path)}?{urlencode(params)}#{quote(fragment)}"
    stripped = strip_url(url)
    assert stripped is not None
    parts = urlsplit(stripped)
    assert (parts.netloc, parts.fragment) == (host, "")
    assert all(key.lower().startswith("utm_") for key, _ in parse_qsl(parts.query))


# Free text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to ana.o'brien+shop@example.co.uk today", f"write to {REMOVED} today"),
        ("mail josé@exämple.de", f"mail {REMOVED}"),
        ("mailto:ana@example.com", f"mailto:{REMOVED}"),
        ("call +44 (20) 7946-0958 now", f"call {REMOVED} now"),
        ("call 0044 20 7946 0958", f"call {REMOVED}"),
        ("(030) 123 45 67", REMOVED),
        ("ring 030/1234567", f"ring {REMOVED}"),
        ("tel 555.123.4567", f"tel {REMOVED}"),
        ("card 4111 1111 1111 1111 exp 12/29", f"card {REMOVED} exp 12/29"),
        ("card 4111-1111-1111-1111", f"card {REMOVED}"),
        ("card 378282246310005", f"card {REMOVED}"),
    ],
)
def test_emails_phones_and_card_numbers_become_removed(text: str, expected: str) -> None:
    assert scrub_text(text) == (expected, 1)


def test_every_match_is_counted() -> None:
    assert scrub_text("a@b.co, c@d.co or 0151 2345678") == (f"{REMOVED}, {REMOVED} or {REMOVED}", 3)


@pytest.mark.parametrize(
    "text",
    [
        "size 42, 19.99 EUR, 3 items",
        "sizes 38, 39, 40, 41",
        "order at 10:30:15",
        "SKU AB-12345",
        "@ana_styles",
    ],
)
def test_ordinary_numbers_and_words_are_kept(text: str) -> None:
    assert scrub_text(text) == (text, 0)


def test_numbers_on_separate_lines_are_not_joined() -> None:
    assert scrub_text("qty 123\n456\n789") == ("qty 123\n456\n789", 0)


def test_text_past_the_cap_is_cut_back_to_a_whitespace() -> None:
    text = "word " * (MAX_TEXT // 5) + "ana@exam" + "ple.com"
    assert scrub_text(text) == ("word " * (MAX_TEXT // 5), 0)


@pytest.mark.parametrize(
    "text",
    [
        "a" * MAX_TEXT,
        "a@" * (MAX_TEXT // 2),
        "1 " * (MAX_TEXT // 2),
        "1 2 3 4 5 6 x " * (MAX_TEXT // 14),
        ("a" * 63 + "@") * (MAX_TEXT // 64),
        "+" + " 1" * (MAX_TEXT // 2 - 1),
        "." * MAX_TEXT,
        "(1" * (MAX_TEXT // 2),
        "x" * 1_000_000,
    ],
)
def test_pathological_text_is_scrubbed_quickly(text: str) -> None:
    started = time.perf_counter()
    scrub_text(text)
    assert time.perf_counter() - started < 0.1


@given(before=filler, secret=pii, after=filler)
def test_no_email_phone_or_card_survives_scrubbing(before: str, secret: str, after: str) -> None:
    scrubbed, removed = scrub_text(f"{before} {secret} {after}")
    assert removed >= 1
    assert _clean(scrubbed)


@given(text=st.text(max_size=200))
def test_scrubbing_twice_changes_nothing_more(text: str) -> None:
    once, _ = scrub_text(text)
    assert scrub_text(once) == (once, 0)


# Properties


def test_properties_outside_the_allow_list_are_dropped_and_counted() -> None:
    kept, dropped = minimize_properties(
        {"sku": "S1", "secret": "x", "price": 10}, frozenset({"sku", "price"})
    )
    assert (kept, dropped) == ({"sku": "S1", "price": 10}, 1)


def test_without_an_allow_list_every_key_is_kept() -> None:
    assert minimize_properties({"sku": "S1", "note": "hi"}, None) == ({"sku": "S1", "note": "hi"}, 0)


def test_strings_nested_in_objects_and_lists_are_scrubbed() -> None:
    properties = {"items": [{"note": "for ana@example.com"}, "call 0151 2345678"], "n": 3}
    assert minimize_properties(properties, None) == (
        {"items": [{"note": f"for {REMOVED}"}, f"call {REMOVED}"], "n": 3},
        2,
    )


def test_numbers_booleans_and_nulls_are_kept_as_they_are() -> None:
    properties = {"price": 19.99, "quantity": 2, "gift": False, "coupon": None}
    assert minimize_properties(properties, None) == (properties, 0)


def test_a_key_that_is_an_email_address_is_dropped() -> None:
    assert minimize_properties({"ana@example.com": True, "ok": 1}, None) == ({"ok": 1}, 1)


def test_a_nested_key_that_is_a_phone_number_is_dropped() -> None:
    assert minimize_properties({"votes": {"+4915112345678": 1, "b": 2}}, None) == ({"votes": {"b": 2}}, 1)


def test_a_url_value_keeps_only_host_path_and_utm_parameters() -> None:
    properties = {"url": "https://s.example/p/1?uid=ana&utm_campaign=spring#x"}
    assert minimize_properties(properties, None) == ({"url": "https://s.example/p/1?utm_campaign=spring"}, 2)


def test_values_nested_beyond_sixteen_levels_are_dropped() -> None:
    deep: object = "x"
    for _ in range(20):
        deep = [deep]
    kept, dropped = minimize_properties({"deep": deep}, None)
    assert (json.dumps(kept).count("["), dropped) == (15, 1)


def test_values_that_are_not_json_are_dropped() -> None:
    assert minimize_properties({"raw": b"ana@example.com", "ok": "y"}, None) == ({"ok": "y"}, 1)


def test_the_properties_given_are_not_changed() -> None:
    properties = {"note": "ana@example.com", "items": ["0151 2345678"], "x": 1}
    minimize_properties(properties, frozenset({"note", "items"}))
    assert properties == {"note": "ana@example.com", "items": ["0151 2345678"], "x": 1}


json_leaves = st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), filler)


@given(
    secret=pii,
    shape=st.recursive(
        json_leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=8,
    ),
)
def test_no_pii_survives_anywhere_in_nested_properties(secret: str, shape: object) -> None:
    cleaned, _ = minimize_properties({"shape": shape, "note": {"items": [f"see {secret}"]}}, None)
    assert _clean(json.dumps(cleaned, ensure_ascii=False))


# Context


def test_context_keeps_what_analytics_needs_and_drops_the_rest() -> None:
    context = {
        "channel": "web",
        "ip": "198.51.100.23",
        "page": {
            "path": "/p/shoes",
            "url": "https://s.example/p/shoes?email=ana@example.com",
            "referrer": "https://google.com/?q=x",
            "title": "Shoes",
            "search": "?email=ana@example.com",
        },
        "campaign": {"source": "news", "medium": "email", "name": "spring", "term": "shoes", "content": "a"},
        "userAgent": "Mozilla/5.0",
        "library": {"name": "analytics.js", "version": "4.1.0"},
        "locale": "de-DE",
        "timezone": "Europe/Berlin",
        "device": {
            "type": "mobile",
            "manufacturer": "Apple",
            "model": "iPhone15,2",
            "advertisingId": "abc-123",
        },
        "os": {"name": "iOS", "version": "17.1"},
        "gpc": True,
        "traits": {"email": "ana@example.com"},
        "consent": {"categoryPreferences": {"analytics": True}},
    }
    kept, dropped = minimize_context(context)
    assert kept == {
        "channel": "web",
        "ip": "198.51.100.0",
        "page": {
            "path": "/p/shoes",
            "url": "https://s.example/p/shoes",
            "referrer": "https://google.com/",
            "title": "Shoes",
        },
        "campaign": {"source": "news", "medium": "email", "name": "spring", "term": "shoes", "content": "a"},
        "userAgent": "Mozilla/5.0",
        "library": {"name": "analytics.js", "version": "4.1.0"},
        "locale": "de-DE",
        "timezone": "Europe/Berlin",
        "device": {"type": "mobile", "manufacturer": "Apple", "model": "iPhone15,2"},
        "os": {"name": "iOS", "version": "17.1"},
        "gpc": True,
    }
    # email and q parameters, page.search, device.advertisingId, traits, consent
    assert dropped == 6


def test_device_and_advertising_ids_are_dropped_and_counted() -> None:
    context = {"device": {"id": "d-1", "advertisingId": "a-1", "adTrackingEnabled": True, "token": "t"}}
    assert minimize_context(context) == ({}, 4)


def test_unknown_context_keys_are_dropped_and_counted() -> None:
    assert minimize_context({"screen": {"width": 390}, "groupId": "g1", "instance": "x"}) == ({}, 3)


def test_a_field_of_the_wrong_type_is_dropped_and_counted() -> None:
    assert minimize_context({"gpc": "true", "channel": 5, "page": "home", "ip": 1}) == ({}, 4)


def test_an_invalid_ip_is_dropped_and_counted() -> None:
    assert minimize_context({"ip": "unknown"}) == ({}, 1)


def test_an_invalid_page_url_is_dropped_and_counted() -> None:
    assert minimize_context({"page": {"url": "not a url", "path": "/a"}}) == ({"page": {"path": "/a"}}, 1)


def test_campaign_text_is_scrubbed() -> None:
    context = {"campaign": {"name": "winback", "content": "ana@example.com", "id": "c-1"}}
    assert minimize_context(context) == ({"campaign": {"name": "winback", "content": REMOVED}}, 2)


def test_page_title_and_path_are_scrubbed() -> None:
    context = {"page": {"title": "Orders of ana@example.com", "path": "/track/0151%202345678"}}
    assert minimize_context(context) == (
        {"page": {"title": f"Orders of {REMOVED}", "path": "/track/%5Bremoved%5D"}},
        2,
    )


def test_the_user_agent_is_capped_at_512_characters() -> None:
    kept, _ = minimize_context({"userAgent": "Mozilla/5.0 " + "x" * 1000})
    assert kept == {"userAgent": ("Mozilla/5.0 " + "x" * 1000)[:512]}


def test_the_context_given_is_not_changed() -> None:
    context = {"ip": "198.51.100.23", "page": {"url": "https://s.example/?q=1"}, "traits": {"a": 1}}
    minimize_context(context)
    assert context == {"ip": "198.51.100.23", "page": {"url": "https://s.example/?q=1"}, "traits": {"a": 1}}


@pytest.mark.parametrize(
    "text",
    [
        "write to ana＠example.com today",
        "write to ana﹫example.com today",
        "write to ana%40example.com today",
        "call +1_415_555_0132 today",
        "call 0151_2345_6789 today",
        "seen from 2001:db8:85a3::8a2e:370:7334 today",
        "seen from 2001:0db8:0000:0000:0000:ff00:0042:8329 today",
    ],
)
def test_addresses_and_numbers_however_written_are_removed_from_free_text(text: str) -> None:
    scrubbed, count = scrub_text(text)
    assert (scrubbed.split()[-2], count) == (REMOVED, 1)


@pytest.mark.parametrize("text", ["meet at 10:30:00", "ratio 1:2:3", "see ::marker"])
def test_times_and_ratios_are_not_mistaken_for_addresses(text: str) -> None:
    assert scrub_text(text) == (text, 0)
