"""Data minimization: only what an event's purpose needs is kept; identifiers are cut or removed.

Every function returns what it kept and how many things it dropped (keys, patterns, URL parts),
so the count can be reported without ever storing what was dropped.
"""

import ipaddress
import re
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

REMOVED = "[removed]"
MAX_TEXT = 10_000  # characters of one string that are scanned and kept; bounds the work per value

_MAX_DEPTH = 16  # nesting deeper than any real event property is dropped, not walked
_MAX_URL = 8_192

# What people type between the digits of a phone or card number (line breaks excluded on purpose:
# numbers on separate lines are separate numbers).
_SEP = r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000\-\u2010-\u2015\u2212.()/_]"
# The at sign as people (and their keyboards and URL encoders) write it: @, fullwidth, small, %40.
_AT = r"(?:[@\uff20\ufe6b]|%40)"
# Characters that end an address as it is written in running text.
_DELIMITERS = r"\s@\uff20\ufe6b<>()/\[\]{}:;,\"`|\\"
_PII = re.compile(
    # An e-mail address: a whole token around an @. No dot is required (generous). The look-behind
    # starts a match only at a token boundary, which keeps the scan linear in the text length.
    rf"(?<![^{_DELIMITERS}])[^{_DELIMITERS}]+{_AT}[^{_DELIMITERS}/?#&=]+"
    # An international number: + and at least six digits.
    rf"|\+{_SEP}{{0,3}}\d(?:{_SEP}{{0,3}}\d){{5,}}"
    # Seven or more digits with separators: national phone numbers, and card numbers (13–19
    # digits) with them. Separators and digits are disjoint, so there is nothing to backtrack into.
    rf"|\(?\d(?:{_SEP}{{0,3}}\d){{6,}}"
)
# A run of hex digits and colons that may be an IPv6 address; ipaddress decides (times such as
# 10:30:00 are not addresses and stay).
_IPV6_CANDIDATE = re.compile(
    r"(?<![0-9A-Fa-f:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d+){0,3}(?![0-9A-Fa-f:])"
)
_URL_VALUE = re.compile(r"(?i:https?)://\S+")
_HOST = re.compile(r"[\w-]+(?:\.[\w-]+)*\.?")
_PATH_SAFE = "/-._~!$&'()*+,=:@"

_DROP = object()  # marks a value that is removed rather than replaced

_CAMPAIGN_KEYS = frozenset({"source", "medium", "name", "term", "content"})
_LIBRARY_KEYS = frozenset({"name", "version"})
_DEVICE_KEYS = frozenset({"type", "manufacturer", "model"})
_OS_KEYS = frozenset({"name", "version"})


def truncate_ip(ip: str) -> str | None:
    """IPv4 to its /24, IPv6 to its /48 (IPv4-mapped IPv6 as IPv4), compressed; None if not an address."""
    try:
        return _truncated(ipaddress.ip_address(ip.strip()))
    except ValueError:
        return None


def strip_url(url: str) -> str | None:
    """Scheme, host and path with only utm_* parameters; no user info, port or fragment; None if invalid."""
    return _strip_url(url)[0]


def scrub_text(text: str) -> tuple[str, int]:
    """Each e-mail address, phone number, card-like number and IP address becomes [removed]; and how
    many did."""
    if len(text) > MAX_TEXT:
        text = _cut(text, MAX_TEXT)
    text, count = _PII.subn(REMOVED, text)
    if text.count(":") < 2:
        return text, count
    removed = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal removed
        try:
            ipaddress.IPv6Address(match.group())
        except ValueError:
            return match.group()
        removed += 1
        return REMOVED

    return _IPV6_CANDIDATE.sub(replace, text), count + removed


def minimize_properties(
    properties: Mapping[str, object], allowed: frozenset[str] | None
) -> tuple[dict[str, object], int]:
    """Allow-listed top-level keys only (all when None), every string scrubbed; and the count dropped."""
    kept = {k: v for k, v in properties.items() if allowed is None or k in allowed}
    cleaned, count = _scrub_mapping(kept, 1)
    return cleaned, count + len(properties) - len(kept)


def minimize_context(context: Mapping[str, object]) -> tuple[dict[str, object], int]:
    """The context fields analytics needs, IP truncated, URLs stripped, text scrubbed; the rest dropped."""
    result: dict[str, object] = {}
    dropped = 0
    for key, value in context.items():
        kept, count = _context_field(key, value)
        dropped += count
        if kept is _DROP:
            dropped += 1
        elif kept != {}:
            result[key] = kept
    return result, dropped


def _truncated(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if isinstance(address, ipaddress.IPv4Address):
        return str(ipaddress.IPv4Address(int(address) >> 8 << 8))
    # Rebuilt from the integer, so a zone id (fe80::1%eth0) does not survive either.
    return str(ipaddress.IPv6Address(int(address) >> 80 << 80))


def _cut(text: str, limit: int) -> str:
    # Cut back to a whitespace so that no half of an address or number is left to slip past the scan.
    for end in range(limit, 0, -1):
        if text[end - 1].isspace():
            return text[:end]
    return ""


def _scrub_string(text: str) -> tuple[str, int]:
    if _URL_VALUE.fullmatch(text):
        stripped, count = _strip_url(text)
        if stripped is not None:
            return stripped, count
    return scrub_text(text)


def _scrub(value: object, depth: int) -> tuple[object, int]:
    if isinstance(value, str):
        return _scrub_string(value)
    if value is None or isinstance(value, bool | int | float):
        return value, 0
    if depth >= _MAX_DEPTH:
        return _DROP, 1
    if isinstance(value, Mapping):
        return _scrub_mapping(value, depth + 1)
    if isinstance(value, list | tuple):
        items: list[object] = []
        total = 0
        for item in value:
            cleaned, count = _scrub(item, depth + 1)
            total += count
            if cleaned is not _DROP:
                items.append(cleaned)
        return items, total
    # Not JSON (bytes, objects): nothing to scan it with, so it is not kept.
    return _DROP, 1


def _scrub_mapping(mapping: Mapping[Any, object], depth: int) -> tuple[dict[str, object], int]:
    cleaned: dict[str, object] = {}
    total = 0
    for key, item in mapping.items():
        if not isinstance(key, str) or _PII.search(key[:MAX_TEXT]):
            total += 1
            continue
        value, count = _scrub(item, depth)
        total += count
        if value is _DROP:
            continue
        cleaned[key] = value
    return cleaned, total


def _strip_url(url: str) -> tuple[str | None, int]:
    text = url.strip()
    if not text or len(text) > _MAX_URL:
        return None, 1
    try:
        parts = urlsplit(text)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None, 1
    if not parts.scheme or not host:
        return None, 1
    host, removed = _host(host)
    if host is None:
        return None, 1
    removed += (parts.username is not None) + (port is not None) + bool(parts.fragment)
    path, count = _clean_path(parts.path)
    removed += count
    query: list[tuple[str, str]] = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name.lower().startswith("utm_") and not _PII.search(name):
            value, count = scrub_text(value)
            query.append((name, value))
            removed += count
        else:
            removed += 1
    return urlunsplit((parts.scheme.lower(), host, path, urlencode(query), "")), removed


def _host(host: str) -> tuple[str | None, int]:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return (host, 0) if _HOST.fullmatch(host) else (None, 1)
    # An address as host is still an address: it is truncated like any other.
    truncated = _truncated(address)
    shown = f"[{truncated}]" if ":" in truncated else truncated
    return shown, int(truncated != str(address))


def _clean_path(path: str) -> tuple[str, int]:
    removed = 0
    if ";" in path:
        # Matrix parameters (;jsessionid=…) carry session ids, not pages.
        path = path.split(";", 1)[0]
        removed += 1
    for _ in range(3):  # decoded until stable, so an address cannot hide behind %40 or %2540
        decoded = unquote(path)
        if decoded == path:
            break
        path = decoded
    cleaned, count = scrub_text(path)
    return quote(cleaned, safe=_PATH_SAFE), removed + count


def _pick(value: object, keys: frozenset[str], limit: int) -> tuple[object, int]:
    """The listed string fields of a sub-object, each capped and scrubbed; anything else counted."""
    if not isinstance(value, Mapping):
        return _DROP, 0
    kept: dict[str, object] = {}
    dropped = 0
    for key, item in value.items():
        if key in keys and isinstance(item, str):
            kept[key], count = scrub_text(item[:limit])
            dropped += count
        else:
            dropped += 1
    return kept, dropped


def _text(value: object, limit: int) -> tuple[object, int]:
    return scrub_text(value[:limit]) if isinstance(value, str) else (_DROP, 0)


def _ip(value: object) -> tuple[object, int]:
    truncated = truncate_ip(value) if isinstance(value, str) else None
    return (_DROP, 0) if truncated is None else (truncated, 0)


def _gpc(value: object) -> tuple[object, int]:
    return (value, 0) if isinstance(value, bool) else (_DROP, 0)


def _page(value: object) -> tuple[object, int]:
    if not isinstance(value, Mapping):
        return _DROP, 0
    kept: dict[str, object] = {}
    dropped = 0
    for key, item in value.items():
        count = 0
        if key in ("url", "referrer") and isinstance(item, str):
            stripped, count = _strip_url(item)
            if stripped is not None:
                kept[key] = stripped
        elif key == "path" and isinstance(item, str):
            kept[key], count = _clean_path(item[:1024])
        elif key == "title" and isinstance(item, str):
            kept[key], count = scrub_text(item[:512])
        else:
            count = 1
        dropped += count
    return kept, dropped


_CONTEXT: dict[str, Callable[[object], tuple[object, int]]] = {
    "channel": partial(_text, limit=128),
    "locale": partial(_text, limit=64),
    "timezone": partial(_text, limit=64),
    "campaign": partial(_pick, keys=_CAMPAIGN_KEYS, limit=256),
    "page": _page,
    "ip": _ip,
    "userAgent": partial(_text, limit=512),
    "library": partial(_pick, keys=_LIBRARY_KEYS, limit=64),
    "device": partial(_pick, keys=_DEVICE_KEYS, limit=64),
    "os": partial(_pick, keys=_OS_KEYS, limit=64),
    "gpc": _gpc,
}


def _context_field(key: str, value: object) -> tuple[object, int]:
    handler = _CONTEXT.get(key)
    return (_DROP, 0) if handler is None else handler(value)
