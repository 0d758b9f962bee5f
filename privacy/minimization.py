"""Data minimization: only what an event's purpose needs is kept; identifiers are cut or removed."""

import ipaddress
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REMOVED = "[removed]"
_MAX_TEXT = 10_000  # bounds the regex work per string; longer text is cut before scanning

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63})+")
# 13–19 digits, optionally grouped by spaces or dashes: card-like numbers.
_CARD = re.compile(r"(?<!\d)(?:\d[ \-]?){12,18}\d(?!\d)")
# International numbers, and 7+ digits with the separators people type.
_PHONE = re.compile(
    r"(?:\+|\b00)\d[\d \-.()]{6,20}\d"
    r"|(?<![\w])\(?\d{2,5}\)?[ \-.]?\d{2,5}[ \-.]?\d{2,5}(?:[ \-.]?\d{1,5})?(?![\w])"
)
_DIGITS = re.compile(r"\d")

_CONTEXT_STRINGS = ("channel", "locale", "timezone")
_CAMPAIGN_KEYS = ("source", "medium", "name", "term", "content")


def truncate_ip(ip: str) -> str | None:
    """IPv4 to its /24, IPv6 to its /48; None for anything that is not an address."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


def strip_url(url: str) -> str | None:
    """Scheme, host and path, with only utm_* parameters; no user info, port or fragment."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
    except ValueError:
        return None
    if not parts.scheme and not host and not parts.path:
        return None
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k.lower().startswith("utm_")])
    path, _ = scrub_text(parts.path)
    return urlunsplit((parts.scheme, host, path, query, ""))


def scrub_text(text: str) -> tuple[str, int]:
    """The text without e-mail addresses, phone numbers or card-like numbers, and how many went."""
    text = text[:_MAX_TEXT]
    removed = 0
    for pattern in (_EMAIL, _CARD, _PHONE):
        text, count = pattern.subn(REMOVED, text)
        removed += count
    # Whatever digit run survived the patterns but is long enough to identify someone goes too.
    text, count = re.subn(r"(?:\d[^\w\n]{0,2}){7,}", REMOVED, text)
    return text, removed + count


def scrub_value(value: Any) -> tuple[Any, int]:
    """Any JSON value with its strings scrubbed and PII-looking keys dropped; and the count."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        cleaned: dict[str, Any] = {}
        total = 0
        for key, item in value.items():
            if not isinstance(key, str) or _EMAIL.search(key) or len(_DIGITS.findall(key)) >= 7:
                total += 1
                continue
            cleaned[key], count = scrub_value(item)
            total += count
        return cleaned, total
    if isinstance(value, list | tuple):
        items = []
        total = 0
        for item in value:
            cleaned_item, count = scrub_value(item)
            items.append(cleaned_item)
            total += count
        return items, total
    return value, 0


def minimize_properties(
    properties: Mapping[str, Any], allowed: frozenset[str] | None
) -> tuple[dict[str, Any], int]:
    """Only allow-listed keys (all when None), with every string scrubbed; and the count dropped."""
    kept = {k: v for k, v in properties.items() if allowed is None or k in allowed}
    cleaned, count = scrub_value(kept)
    return cleaned, count + len(properties) - len(kept)


def minimize_context(context: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """The context fields analytics needs, with IPs truncated and URLs stripped; the rest dropped."""
    result: dict[str, Any] = {}
    dropped = 0
    for key, value in context.items():
        if key in _CONTEXT_STRINGS and isinstance(value, str):
            result[key], count = scrub_text(value[:128])
        elif key == "campaign" and isinstance(value, Mapping):
            result[key], count = scrub_value(
                {k: str(v)[:256] for k, v in value.items() if k in _CAMPAIGN_KEYS}
            )
        elif key == "page" and isinstance(value, Mapping):
            result[key], count = _page(value)
        elif key == "ip" and isinstance(value, str) and (ip := truncate_ip(value)) is not None:
            result[key], count = ip, 0
        elif key == "userAgent" and isinstance(value, str):
            result[key], count = scrub_text(value[:512])
        elif key == "library" and isinstance(value, Mapping):
            result[key], count = scrub_value(
                {k: str(v)[:64] for k, v in value.items() if k in ("name", "version")}
            )
        elif key == "device" and isinstance(value, Mapping):
            result[key], count = scrub_value(
                {k: str(v)[:64] for k, v in value.items() if k in ("type", "manufacturer", "model")}
            )
        elif key == "os" and isinstance(value, Mapping):
            result[key], count = scrub_value(
                {k: str(v)[:64] for k, v in value.items() if k in ("name", "version")}
            )
        elif key == "gpc" and isinstance(value, bool):
            result[key], count = value, 0
        else:
            count = 1
        dropped += count
    return result, dropped


def _page(page: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    result: dict[str, Any] = {}
    dropped = 0
    for key in ("url", "referrer"):
        if isinstance(page.get(key), str) and (stripped := strip_url(page[key])) is not None:
            result[key] = stripped
    for key in ("path", "title"):
        if isinstance(page.get(key), str):
            result[key], count = scrub_text(page[key][:512])
            dropped += count
    dropped += len([k for k in page if k not in ("url", "referrer", "path", "title")])
    return result, dropped
