"""Which marketing channel an event came through, from what the client told us.

Precedence: an explicit `context.channel` naming a Channel; then `context.campaign` medium/source; then
the page URL's utm_medium/utm_source; then the referrer's host; else direct. Mediums follow the
GA/Segment conventions.

An explicit channel outside the built-in list is a custom channel, kept under its slug (`channel_name`).
A workspace keeps at most MAX_CUSTOM_CHANNELS of them; the rest, and names without one usable
character, are stored as FALLBACK_CHANNEL (`admit_channels`).
"""

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
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


# Search engines are recognised by a host label (google.co.uk, www.bing.com, search.yahoo.com).
_SEARCH = frozenset({"google", "bing", "duckduckgo", "yahoo", "baidu", "yandex", "ecosia", "qwant", "brave"})
# Long social names are recognised by a host label; short ones only as whole domains, because labels
# such as "t" or "x" occur in unrelated hosts (t.mail.example.com).
_SOCIAL_LABELS = frozenset(
    {"facebook", "instagram", "twitter", "linkedin", "pinterest", "tiktok", "reddit", "youtube", "snapchat"}
)
_SOCIAL_DOMAINS = frozenset(
    {"t.co", "x.com", "fb.com", "fb.me", "lnkd.in", "youtu.be", "pin.it", "threads.net", "threads.com"}
)
# Names used as utm_source for social networks that are not hosts.
_SOCIAL_SOURCES = _SOCIAL_LABELS | {"fb", "ig", "meta", "x", "threads", "snap"}
_WEBMAIL = frozenset(
    {
        "mail.google.com",
        "outlook.live.com",
        "outlook.office.com",
        "outlook.office365.com",
        "mail.yahoo.com",
        "mail.proton.me",
        "mail.aol.com",
        "mail.yandex.ru",
        "mail.yandex.com",
        "com.google.android.gm",  # the Gmail app's android-app:// referrer
    }
)
_PAID_SEARCH = frozenset({"cpc", "ppc", "paidsearch", "paid_search", "paid-search", "sem", "cpm", "display"})
_PAID_SOCIAL = frozenset({"paid_social", "paidsocial", "paid-social", "social_paid", "social-paid"})
_MEDIUM = {
    "email": Channel.EMAIL,
    "e-mail": Channel.EMAIL,
    "e_mail": Channel.EMAIL,
    "newsletter": Channel.EMAIL,
    "sms": Channel.SMS,
    "text": Channel.SMS,
    "mms": Channel.SMS,
    "push": Channel.PUSH,
    "push_notification": Channel.PUSH,
    "push-notification": Channel.PUSH,
    "app_push": Channel.PUSH,
    "affiliate": Channel.AFFILIATE,
    "affiliates": Channel.AFFILIATE,
    "partner": Channel.AFFILIATE,
    "partners": Channel.AFFILIATE,
    "social": Channel.ORGANIC_SOCIAL,
    "social-network": Channel.ORGANIC_SOCIAL,
    "social_network": Channel.ORGANIC_SOCIAL,
    "social-media": Channel.ORGANIC_SOCIAL,
    "social_media": Channel.ORGANIC_SOCIAL,
    "sm": Channel.ORGANIC_SOCIAL,
    "organic": Channel.ORGANIC_SEARCH,
    "seo": Channel.ORGANIC_SEARCH,
    "referral": Channel.REFERRAL,
}
# GA's "(none)" / "(not set)" placeholders say nothing about the channel.
_UNSET = frozenset({"", "(none)", "none", "(not set)", "not set", "(direct)"})


# Pages and referrers repeat across a shop's traffic: each distinct URL is parsed once (bounded).
@lru_cache(maxsize=4096)
def _host(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    return _bare(host) if host else None


def _bare(host: str) -> str:
    return host.strip().lower().rstrip(".").removeprefix("www.")


def _within(host: str, domains: frozenset[str]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def _is_search(host_or_source: str) -> bool:
    return bool(set(host_or_source.split(".")) & _SEARCH)


def _is_social(host_or_source: str) -> bool:
    return (
        host_or_source in _SOCIAL_SOURCES
        or bool(set(host_or_source.split(".")) & _SOCIAL_LABELS)
        or _within(host_or_source, _SOCIAL_DOMAINS)
    )


def _normal(text: object) -> str:
    normal = str(text).strip().lower() if text is not None else ""
    return "" if normal in _UNSET else normal


def _from_campaign(medium: str, source: str) -> Channel | None:
    # Paid media without a social hint are search ads: the only paid channel left (GA's "Paid Other").
    if medium in _PAID_SOCIAL or (medium.startswith("paid") and "social" in medium):
        return Channel.PAID_SOCIAL
    if medium in _PAID_SEARCH or medium.startswith("paid"):
        return Channel.PAID_SOCIAL if _is_social(source) else Channel.PAID_SEARCH
    if medium in _MEDIUM:
        return _MEDIUM[medium]
    if medium:
        return None
    if source in ("email", "newsletter"):
        return Channel.EMAIL
    if _is_social(source):
        return Channel.ORGANIC_SOCIAL
    if _is_search(source):
        return Channel.ORGANIC_SEARCH
    return None


@lru_cache(maxsize=4096)
def _utm(url: str | None) -> tuple[str, str]:
    if not url:
        return "", ""
    try:
        query = {k.lower(): v for k, v in parse_qsl(urlsplit(url.strip()).query)}
    except ValueError:
        return "", ""
    return _normal(query.get("utm_medium")), _normal(query.get("utm_source"))


def _explicit(explicit: str | None) -> Channel | None:
    if not explicit:
        return None
    normal = re.sub(r"[\s-]+", "_", explicit.strip().lower())
    return Channel(normal) if normal in Channel._value2member_map_ else None


def derive_channel(
    *,
    explicit: str | None,
    campaign: Mapping[str, object] | None,
    url: str | None,
    referrer: str | None,
    own_hosts: frozenset[str] = frozenset(),
) -> Channel:
    """explicit channel if it names one; else campaign medium/source; else the URL's utm_medium/utm_source;
    else the referrer (webmail → email, search engine → organic_search, social network →
    organic_social, the shop's own host or a subdomain of one → no signal, other → referral); else direct."""
    if (chosen := _explicit(explicit)) is not None:
        return chosen
    campaign = campaign or {}
    for medium, source in (
        (_normal(campaign.get("medium")), _normal(campaign.get("source"))),
        _utm(url),
    ):
        if (found := _from_campaign(medium, source)) is not None:
            return found
    host = _host(referrer)
    own = {_bare(h) for h in own_hosts} | ({page} if (page := _host(url)) else set())
    if host is None or _within(host, frozenset(own)):
        return Channel.DIRECT
    if host in _WEBMAIL or host.startswith(("mail.", "webmail.")):
        return Channel.EMAIL
    if _is_search(host):
        return Channel.ORGANIC_SEARCH
    if _is_social(host):
        return Channel.ORGANIC_SOCIAL
    return Channel.REFERRAL


MAX_CUSTOM_CHANNELS = 100
MAX_SLUG_LENGTH = 40
# Where custom channels go that a workspace cannot keep under their own name.
FALLBACK_CHANNEL = "other_custom"
BUILT_IN = frozenset(channel.value for channel in Channel)
_NOT_SLUG = re.compile(r"[^a-z0-9_-]+")


def channel_slug(name: str) -> str:
    """A custom channel's name as stored: accents dropped (NFKD), other non-ASCII dropped, lower-case,
    each run of characters outside [a-z0-9_-] made one "_", "_" and "-" trimmed from both ends, cut to
    MAX_SLUG_LENGTH characters (and trimmed again). Empty when nothing usable is left."""
    ascii_only = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    slug = _NOT_SLUG.sub("_", ascii_only).strip("_-")
    return slug[:MAX_SLUG_LENGTH].rstrip("_-")


def channel_name(
    *,
    explicit: str | None,
    campaign: Mapping[str, object] | None,
    url: str | None,
    referrer: str | None,
    own_hosts: frozenset[str] = frozenset(),
) -> str:
    """derive_channel's channel, except that an explicit channel outside the built-in list is kept as a
    custom channel: its slug, or FALLBACK_CHANNEL when it has no usable character (a placeholder such
    as "(none)" counts as no channel given)."""
    medium, source = (campaign.get("medium"), campaign.get("source")) if campaign else (None, None)
    # Only text names a medium or source (anything else reads as none): the key stays hashable.
    texts = tuple(value if isinstance(value, str) else None for value in (medium, source))
    return _named(explicit, texts, url, referrer, own_hosts)


# A shop's traffic repeats the same few pages, referrers and campaigns: each combination is named once
# (bounded). Only what derive_channel reads of the campaign is part of the key.
@lru_cache(maxsize=4096)
def _named(
    explicit: str | None,
    medium_source: tuple[str | None, ...],
    url: str | None,
    referrer: str | None,
    own_hosts: frozenset[str],
) -> str:
    if _explicit(explicit) is None and _normal(explicit):
        return channel_slug(explicit or "") or FALLBACK_CHANNEL
    medium, source = medium_source
    campaign = {"medium": medium, "source": source}
    return derive_channel(
        explicit=explicit, campaign=campaign, url=url, referrer=referrer, own_hosts=own_hosts
    ).value


def is_custom(name: str) -> bool:
    return name not in BUILT_IN and name != FALLBACK_CHANNEL


@dataclass(frozen=True)
class Admission:
    """What a batch's channels become in a workspace."""

    names: Mapping[str, str]  # each channel name given → the name its events are stored under
    added: tuple[str, ...]  # custom channels new to the workspace, in order of first appearance
    fallback_events: int  # events stored under FALLBACK_CHANNEL


def admit_channels(
    channels: Sequence[str], known: frozenset[str], cap: int = MAX_CUSTOM_CHANNELS
) -> Admission:
    """Per event's channel: a built-in one and a custom one the workspace knows stay; a new custom one
    is added while the workspace has fewer than `cap` (first come, first kept); any other custom one
    becomes FALLBACK_CHANNEL. `known` is the workspace's set of custom channels."""
    names: dict[str, str] = {}
    added: list[str] = []
    fallback_events = 0
    for channel in channels:
        if channel not in names:
            if not is_custom(channel) or channel in known:
                names[channel] = channel
            elif len(known) + len(added) < cap:
                names[channel] = channel
                added.append(channel)
            else:
                names[channel] = FALLBACK_CHANNEL
        fallback_events += names[channel] == FALLBACK_CHANNEL
    return Admission(names=names, added=tuple(added), fallback_events=fallback_events)
