"""Which marketing channel an event came through, from what the client told us."""

from collections.abc import Mapping
from enum import StrEnum
from urllib.parse import parse_qsl, urlsplit


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    PAID_SEARCH = "paid_search"
    PAID_SOCIAL = "paid_social"
    ORGANIC_SEARCH = "organic_search"
    ORGANIC_SOCIAL = "organic_social"
    AFFILIATE = "affiliate"
    REFERRAL = "referral"
    DIRECT = "direct"


_SEARCH = ("google", "bing", "duckduckgo", "yahoo", "baidu", "yandex", "ecosia", "qwant", "brave")
_SOCIAL = (
    "facebook",
    "instagram",
    "twitter",
    "x",
    "t",
    "linkedin",
    "pinterest",
    "tiktok",
    "reddit",
    "youtube",
    "snapchat",
    "threads",
    "fb",
    "lnkd",
)
_WEBMAIL = (
    "mail.google.com",
    "outlook.live.com",
    "outlook.office.com",
    "mail.yahoo.com",
    "mail.proton.me",
)
_PAID = (
    "cpc",
    "ppc",
    "paid",
    "paidsearch",
    "paid_search",
    "sem",
    "cpm",
    "display",
    "paid_social",
    "paidsocial",
    "social_paid",
    "paid-social",
)
_MEDIUM = {
    "email": Channel.EMAIL,
    "e-mail": Channel.EMAIL,
    "newsletter": Channel.EMAIL,
    "sms": Channel.SMS,
    "text": Channel.SMS,
    "mms": Channel.SMS,
    "push": Channel.PUSH,
    "push_notification": Channel.PUSH,
    "app_push": Channel.PUSH,
    "affiliate": Channel.AFFILIATE,
    "affiliates": Channel.AFFILIATE,
    "partner": Channel.AFFILIATE,
    "social": Channel.ORGANIC_SOCIAL,
    "social-network": Channel.ORGANIC_SOCIAL,
    "social_media": Channel.ORGANIC_SOCIAL,
    "organic": Channel.ORGANIC_SEARCH,
    "seo": Channel.ORGANIC_SEARCH,
    "referral": Channel.REFERRAL,
}


def _host(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    return host.lower().removeprefix("www.") if host else None


def _labels(host: str) -> set[str]:
    return set(host.split("."))


def _is_social(source: str) -> bool:
    return bool(_labels(source) & set(_SOCIAL)) or source in _SOCIAL


def _from_campaign(medium: str, source: str) -> Channel | None:
    if medium in _PAID:
        if "social" in medium or _is_social(source):
            return Channel.PAID_SOCIAL
        return Channel.PAID_SEARCH
    if medium in _MEDIUM:
        return _MEDIUM[medium]
    if not medium and source:
        if _is_social(source):
            return Channel.ORGANIC_SOCIAL
        if source in ("email", "newsletter"):
            return Channel.EMAIL
    return None


def derive_channel(
    *,
    explicit: str | None,
    campaign: Mapping[str, object] | None,
    url: str | None,
    referrer: str | None,
    own_hosts: frozenset[str] = frozenset(),
) -> Channel:
    """context.channel if valid; else campaign medium/source (context.campaign, then the page URL's
    utm_*); else the referrer's host (search engine, social network, webmail, other site); else direct."""
    if explicit and explicit.strip().lower() in Channel._value2member_map_:
        return Channel(explicit.strip().lower())
    utm: dict[str, str] = {}
    if url:
        try:
            utm = {k.lower(): v for k, v in parse_qsl(urlsplit(url).query)}
        except ValueError:
            utm = {}
    for medium, source in (
        (str((campaign or {}).get("medium") or ""), str((campaign or {}).get("source") or "")),
        (utm.get("utm_medium", ""), utm.get("utm_source", "")),
    ):
        found = _from_campaign(medium.strip().lower(), source.strip().lower())
        if found is not None:
            return found
    host = _host(referrer)
    if host is None or host in own_hosts or host == _host(url):
        return Channel.DIRECT
    if host in _WEBMAIL:
        return Channel.EMAIL
    labels = _labels(host)
    if labels & set(_SEARCH):
        return Channel.ORGANIC_SEARCH
    if labels & set(_SOCIAL) or host in ("t.co", "lnkd.in"):
        return Channel.ORGANIC_SOCIAL
    return Channel.REFERRAL
