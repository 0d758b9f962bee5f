import pytest

from server.domain.channel import Channel, derive_channel


@pytest.mark.parametrize(
    ("campaign", "url", "referrer", "expected"),
    [
        ({"medium": "cpc", "source": "google"}, None, None, Channel.PAID_SEARCH),
        ({"medium": "cpc", "source": "facebook"}, None, None, Channel.PAID_SOCIAL),
        ({"medium": "paid_social", "source": "tiktok"}, None, None, Channel.PAID_SOCIAL),
        ({"medium": "email"}, None, None, Channel.EMAIL),
        ({"medium": "sms"}, None, None, Channel.SMS),
        ({"medium": "push"}, None, None, Channel.PUSH),
        ({"medium": "affiliate"}, None, None, Channel.AFFILIATE),
        ({"medium": "social", "source": "instagram"}, None, None, Channel.ORGANIC_SOCIAL),
        (None, "https://shop.example/p?utm_medium=newsletter&utm_source=weekly", None, Channel.EMAIL),
        (None, None, "https://www.google.co.uk/search", Channel.ORGANIC_SEARCH),
        (None, None, "https://duckduckgo.com/", Channel.ORGANIC_SEARCH),
        (None, None, "https://t.co/abc", Channel.ORGANIC_SOCIAL),
        (None, None, "https://l.facebook.com/", Channel.ORGANIC_SOCIAL),
        (None, None, "https://mail.google.com/mail/u/0", Channel.EMAIL),
        (None, None, "https://blog.example.org/post", Channel.REFERRAL),
        (None, "https://shop.example/b", "https://shop.example/a", Channel.DIRECT),
        (None, None, None, Channel.DIRECT),
    ],
)
def test_channel_is_derived_from_campaign_then_utm_then_referrer(
    campaign: dict[str, str] | None, url: str | None, referrer: str | None, expected: Channel
) -> None:
    assert derive_channel(explicit=None, campaign=campaign, url=url, referrer=referrer) is expected


def test_an_explicit_channel_wins() -> None:
    assert (
        derive_channel(explicit="SMS", campaign={"medium": "email"}, url=None, referrer=None) is Channel.SMS
    )


def test_an_unknown_explicit_channel_falls_back_to_derivation() -> None:
    assert (
        derive_channel(explicit="tv", campaign={"medium": "email"}, url=None, referrer=None) is Channel.EMAIL
    )


def test_the_shops_own_hosts_are_not_referrals() -> None:
    own = frozenset({"checkout.shop.example"})
    assert (
        derive_channel(
            explicit=None, campaign=None, url=None, referrer="https://checkout.shop.example/", own_hosts=own
        )
        is Channel.DIRECT
    )


def test_campaign_outranks_utm_parameters() -> None:
    url = "https://shop.example/?utm_medium=sms"
    assert (
        derive_channel(explicit=None, campaign={"medium": "email"}, url=url, referrer=None) is Channel.EMAIL
    )
