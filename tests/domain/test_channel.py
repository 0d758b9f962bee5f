import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.domain.channel import (
    BUILT_IN,
    FALLBACK_CHANNEL,
    MAX_SLUG_LENGTH,
    Channel,
    admit_channels,
    channel_name,
    channel_slug,
    derive_channel,
)

SHOP = "https://shop.example/p/1"


def from_campaign(medium: str | None = None, source: str | None = None) -> Channel:
    campaign = {k: v for k, v in (("medium", medium), ("source", source)) if v is not None}
    return derive_channel(explicit=None, campaign=campaign, url=SHOP, referrer=None)


def from_referrer(referrer: str | None, url: str | None = SHOP, own: frozenset[str] = frozenset()) -> Channel:
    return derive_channel(explicit=None, campaign=None, url=url, referrer=referrer, own_hosts=own)


@pytest.mark.parametrize(
    ("medium", "source", "expected"),
    [
        ("cpc", "google", Channel.PAID_SEARCH),
        ("ppc", "bing", Channel.PAID_SEARCH),
        ("paidsearch", "google", Channel.PAID_SEARCH),
        ("CPC", "Google", Channel.PAID_SEARCH),
        ("cpc", "criteo", Channel.PAID_SEARCH),
        ("cpc", "facebook", Channel.PAID_SOCIAL),
        ("cpc", "ig", Channel.PAID_SOCIAL),
        ("cpc", "tiktok", Channel.PAID_SOCIAL),
        ("paid", "linkedin.com", Channel.PAID_SOCIAL),
        ("paid_social", "tiktok", Channel.PAID_SOCIAL),
        ("paidsocial", None, Channel.PAID_SOCIAL),
        ("paid-social", "google", Channel.PAID_SOCIAL),
        ("email", None, Channel.EMAIL),
        ("newsletter", "weekly", Channel.EMAIL),
        ("sms", None, Channel.SMS),
        ("text", "attentive", Channel.SMS),
        ("push", None, Channel.PUSH),
        ("affiliate", "awin", Channel.AFFILIATE),
        ("partner", None, Channel.AFFILIATE),
        ("social", "instagram", Channel.ORGANIC_SOCIAL),
        ("social-network", "pinterest", Channel.ORGANIC_SOCIAL),
        ("organic", "google", Channel.ORGANIC_SEARCH),
        ("referral", "blog.example.org", Channel.REFERRAL),
        (None, "facebook", Channel.ORGANIC_SOCIAL),
        (None, "duckduckgo", Channel.ORGANIC_SEARCH),
        (None, "newsletter", Channel.EMAIL),
    ],
)
def test_campaign_medium_and_source_name_the_channel(
    medium: str | None, source: str | None, expected: Channel
) -> None:
    assert from_campaign(medium, source) is expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("utm_medium=cpc&utm_source=google", Channel.PAID_SEARCH),
        ("utm_medium=cpc&utm_source=facebook", Channel.PAID_SOCIAL),
        ("utm_medium=newsletter&utm_source=weekly", Channel.EMAIL),
        ("UTM_MEDIUM=SMS", Channel.SMS),
        ("utm_medium=push", Channel.PUSH),
        ("utm_medium=affiliate", Channel.AFFILIATE),
        ("utm_source=x", Channel.ORGANIC_SOCIAL),
    ],
)
def test_the_page_urls_utm_parameters_name_the_channel(query: str, expected: Channel) -> None:
    assert from_referrer(None, url=f"{SHOP}?{query}") is expected


@pytest.mark.parametrize(
    ("referrer", "expected"),
    [
        ("https://www.google.co.uk/search?q=boots", Channel.ORGANIC_SEARCH),
        ("https://www.bing.com/", Channel.ORGANIC_SEARCH),
        ("https://duckduckgo.com/", Channel.ORGANIC_SEARCH),
        ("https://search.yahoo.com/", Channel.ORGANIC_SEARCH),
        ("https://www.baidu.com/", Channel.ORGANIC_SEARCH),
        ("https://yandex.ru/", Channel.ORGANIC_SEARCH),
        ("https://www.ecosia.org/", Channel.ORGANIC_SEARCH),
        ("android-app://com.google.android.googlequicksearchbox/", Channel.ORGANIC_SEARCH),
        ("https://t.co/abc", Channel.ORGANIC_SOCIAL),
        ("https://x.com/shop", Channel.ORGANIC_SOCIAL),
        ("https://twitter.com/shop", Channel.ORGANIC_SOCIAL),
        ("https://l.facebook.com/", Channel.ORGANIC_SOCIAL),
        ("https://www.instagram.com/", Channel.ORGANIC_SOCIAL),
        ("https://www.linkedin.com/feed", Channel.ORGANIC_SOCIAL),
        ("https://lnkd.in/xyz", Channel.ORGANIC_SOCIAL),
        ("https://pinterest.de/pin/1", Channel.ORGANIC_SOCIAL),
        ("https://www.tiktok.com/@shop", Channel.ORGANIC_SOCIAL),
        ("https://old.reddit.com/r/boots", Channel.ORGANIC_SOCIAL),
        ("https://m.youtube.com/watch?v=1", Channel.ORGANIC_SOCIAL),
        ("https://mail.google.com/mail/u/0", Channel.EMAIL),
        ("https://outlook.live.com/mail/", Channel.EMAIL),
        ("https://mail.yahoo.com/", Channel.EMAIL),
        ("android-app://com.google.android.gm", Channel.EMAIL),
        ("https://blog.example.org/post", Channel.REFERRAL),
        ("https://t.news.example.com/a", Channel.REFERRAL),
        ("https://box.x.example.net/", Channel.REFERRAL),
        ("https://shop.example/cart", Channel.DIRECT),
        ("https://www.shop.example/cart", Channel.DIRECT),
        ("not a url", Channel.DIRECT),
        ("http://[::1", Channel.DIRECT),
        ("", Channel.DIRECT),
        (None, Channel.DIRECT),
    ],
)
def test_the_referrers_host_names_the_channel(referrer: str | None, expected: Channel) -> None:
    assert from_referrer(referrer) is expected


@pytest.mark.parametrize("explicit", ["sms", "SMS", " sms ", "Paid Search", "paid-search", "paid_search"])
def test_an_explicit_channel_wins_over_everything(explicit: str) -> None:
    channel = derive_channel(
        explicit=explicit,
        campaign={"medium": "email"},
        url=f"{SHOP}?utm_medium=push",
        referrer="https://www.google.com/",
    )
    assert channel is (Channel.SMS if "sms" in explicit.lower() else Channel.PAID_SEARCH)


@pytest.mark.parametrize("explicit", ["tv", "", "  ", "web"])
def test_an_unknown_explicit_channel_falls_back_to_derivation(explicit: str) -> None:
    assert (
        derive_channel(explicit=explicit, campaign={"medium": "email"}, url=None, referrer=None)
        is Channel.EMAIL
    )


def test_campaign_outranks_utm_parameters() -> None:
    url = f"{SHOP}?utm_medium=sms"
    assert (
        derive_channel(explicit=None, campaign={"medium": "email"}, url=url, referrer=None) is Channel.EMAIL
    )


def test_utm_parameters_outrank_the_referrer() -> None:
    channel = derive_channel(
        explicit=None, campaign=None, url=f"{SHOP}?utm_medium=email", referrer="https://www.google.com/"
    )
    assert channel is Channel.EMAIL


def test_an_unrecognised_campaign_falls_through_to_the_referrer() -> None:
    channel = derive_channel(
        explicit=None, campaign={"medium": "banner"}, url=SHOP, referrer="https://www.bing.com/"
    )
    assert channel is Channel.ORGANIC_SEARCH


def test_ga_placeholders_say_nothing_about_the_channel() -> None:
    channel = derive_channel(
        explicit=None,
        campaign={"medium": "(none)", "source": "(direct)"},
        url=SHOP,
        referrer="https://www.bing.com/",
    )
    assert channel is Channel.ORGANIC_SEARCH


@pytest.mark.parametrize(
    "referrer",
    ["https://checkout.shop.example/", "https://WWW.Checkout.Shop.Example/", "https://a.b.shop.example/"],
)
def test_the_shops_own_hosts_and_their_subdomains_are_not_referrals(referrer: str) -> None:
    own = frozenset({"www.checkout.shop.example", "b.shop.example"})
    assert from_referrer(referrer, url=None, own=own) is Channel.DIRECT


def test_a_host_that_merely_ends_like_an_own_host_is_a_referral() -> None:
    assert from_referrer("https://notshop.example/", own=frozenset({"shop.example"})) is Channel.REFERRAL


def test_an_own_host_referrer_does_not_hide_a_campaign() -> None:
    channel = derive_channel(
        explicit=None, campaign={"medium": "sms"}, url=SHOP, referrer="https://shop.example/"
    )
    assert channel is Channel.SMS


def test_every_channel_can_be_derived() -> None:
    derived = {
        from_campaign("email"),
        from_campaign("sms"),
        from_campaign("push"),
        from_campaign("cpc", "google"),
        from_campaign("cpc", "facebook"),
        from_referrer("https://www.google.com/"),
        from_referrer("https://www.facebook.com/"),
        from_campaign("affiliate"),
        from_referrer("https://blog.example.org/"),
        from_referrer(None),
    }
    assert derived == set(Channel)


text = st.none() | st.text(max_size=40) | st.sampled_from(["https://", "http://[", "?utm_medium=", "%zz"])


@given(
    explicit=text,
    medium=text,
    source=st.one_of(text, st.integers()),
    url=text,
    referrer=text,
)
def test_any_input_yields_a_channel(
    explicit: str | None, medium: str | None, source: object, url: str | None, referrer: str | None
) -> None:
    campaign = {"medium": medium, "source": source}
    channel = derive_channel(explicit=explicit, campaign=campaign, url=url, referrer=referrer)
    assert isinstance(channel, Channel)


def named(explicit: str | None) -> str:
    return channel_name(explicit=explicit, campaign={"medium": "email"}, url=None, referrer=None)


@pytest.mark.parametrize(
    ("explicit", "expected"),
    [
        ("tv", "tv"),
        ("Podcast", "podcast"),
        ("  In-Store Kiosk ", "in-store_kiosk"),
        ("in-store", "in-store"),
        ("Télé Matin", "tele_matin"),
        ("QR code #2 (Paris)", "qr_code_2_paris"),
        ("--radio__", "radio"),
    ],
)
def test_an_explicit_channel_outside_the_list_is_kept_as_its_slug(explicit: str, expected: str) -> None:
    assert named(explicit) == expected


@pytest.mark.parametrize("explicit", ["SMS", "Paid Search", "paid-search", "paid search!"])
def test_an_explicit_built_in_channel_stays_built_in(explicit: str) -> None:
    assert named(explicit) in BUILT_IN


@pytest.mark.parametrize("explicit", [None, "", "  ", "(none)", "(not set)"])
def test_no_explicit_channel_leaves_the_channel_to_derivation(explicit: str | None) -> None:
    assert named(explicit) == "email"


@pytest.mark.parametrize("explicit", ["!!!", "日本", "🙂"])
def test_an_explicit_channel_without_a_usable_character_goes_to_the_fallback(explicit: str) -> None:
    assert named(explicit) == FALLBACK_CHANNEL


def test_a_slug_is_cut_to_its_maximum_length_without_a_trailing_separator() -> None:
    assert channel_slug("a" * 39 + " b" + "c" * 10) == "a" * 39
    assert len(channel_slug("x" * 100)) == MAX_SLUG_LENGTH


@given(st.text(max_size=80))
def test_a_slug_is_short_lower_case_ascii_and_stable(name: str) -> None:
    slug = channel_slug(name)
    assert len(slug) <= MAX_SLUG_LENGTH
    assert all(c in "abcdefghijklmnopqrstuvwxyz0123456789_-" for c in slug)
    assert not slug.startswith(("_", "-"))
    assert not slug.endswith(("_", "-"))
    assert channel_slug(slug) == slug


def test_known_custom_channels_and_built_in_ones_are_kept() -> None:
    admission = admit_channels(["email", "tv", "direct"], known=frozenset({"tv"}), cap=1)
    assert (dict(admission.names), admission.added, admission.fallback_events) == (
        {"email": "email", "tv": "tv", "direct": "direct"},
        (),
        0,
    )


def test_new_custom_channels_join_while_under_the_cap() -> None:
    admission = admit_channels(["tv", "radio", "tv"], known=frozenset({"kiosk"}), cap=3)
    assert admission.added == ("tv", "radio")
    assert admission.names == {"tv": "tv", "radio": "radio"}


def test_new_custom_channels_past_the_cap_go_to_the_fallback_and_are_counted_per_event() -> None:
    admission = admit_channels(["tv", "radio", "radio", "email"], known=frozenset({"kiosk"}), cap=2)
    assert admission.added == ("tv",)
    assert admission.names == {"tv": "tv", "radio": FALLBACK_CHANNEL, "email": "email"}
    assert admission.fallback_events == 2


def test_the_fallback_channel_is_never_added_as_a_custom_one() -> None:
    admission = admit_channels([FALLBACK_CHANNEL], known=frozenset(), cap=5)
    assert (admission.added, admission.fallback_events) == ((), 1)
