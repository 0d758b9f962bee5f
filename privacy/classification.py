"""Which traits are personal data, which of them identify a person, and the one normal form of each
identifier: ingest, blind indexes, suppression, look-up and erasure all call these functions."""

import re
import unicodedata
from collections.abc import Mapping
from email.utils import parseaddr
from enum import StrEnum

import idna
import phonenumbers

from privacy.minimization import minimize_properties

STANDARD_PII_TRAITS: frozenset[str] = frozenset(
    {
        "email",
        "phone",
        "firstName",
        "lastName",
        "first_name",
        "last_name",
        "name",
        "address",
        "street",
        "city",
        "postalCode",
        "postal_code",
        "birthday",
        "birthdate",
    }
)


class IdentifierKind(StrEnum):
    """What a value identifies a person by; also the `kind` of its suppression hash."""

    USER_ID = "user_id"
    ANONYMOUS_ID = "anonymous_id"
    EMAIL = "email"
    PHONE = "phone"


def _name_key(name: str) -> str:
    return re.sub(r"[\s_-]", "", name).casefold()


# Trait names (compared as _name_key) whose value is an e-mail address or a phone number. They are
# personal, blind-indexed and suppressed, whatever spelling the shop's instrumentation uses.
_CONTACT_KEYS: Mapping[str, IdentifierKind] = {
    **dict.fromkeys(("email", "emailaddress", "mail", "mailaddress"), IdentifierKind.EMAIL),
    **dict.fromkeys(
        (
            "phone",
            "phonenumber",
            "mobile",
            "mobilephone",
            "mobilenumber",
            "cellphone",
            "telephone",
            "tel",
            "sms",
        ),
        IdentifierKind.PHONE,
    ),
}
_STANDARD_KEYS = frozenset(map(_name_key, STANDARD_PII_TRAITS)) | frozenset(_CONTACT_KEYS)
_EMAIL_LOCAL = re.compile(r"[^\s@\"(),:;<>\[\]\\]{1,64}")
_EMAIL_LABEL = re.compile(r"[a-z0-9-]{1,63}")
MAX_IDENTIFIER = 256


def is_pii_trait(name: str, workspace_pii: frozenset[str] = frozenset()) -> bool:
    """Personal when the standard or the workspace's list names it (case, `_`, `-` and spaces ignored)."""
    key = _name_key(name)
    return key in _STANDARD_KEYS or any(_name_key(listed) == key for listed in workspace_pii)


def contact_kind(name: str) -> IdentifierKind | None:
    """EMAIL or PHONE when a trait of this name holds an address or number (any spelling), else None."""
    return _CONTACT_KEYS.get(_name_key(name))


def split_traits(
    traits: Mapping[str, object], workspace_pii: frozenset[str] = frozenset()
) -> tuple[dict[str, object], dict[str, object]]:
    """(plain, pii): PII traits as given (to be encrypted); plain ones scrubbed, so no PII hides there."""
    plain: dict[str, object] = {}
    pii: dict[str, object] = {}
    for name, value in traits.items():
        if is_pii_trait(name, workspace_pii):
            pii[name] = value
        else:
            plain[name] = value
    scrubbed, _ = minimize_properties(plain, None)
    return scrubbed, pii


def contacts(traits: Mapping[str, object], *, region: str | None) -> list[tuple[IdentifierKind, str]]:
    """Every e-mail address and phone number among the traits, normalized, from any key spelling."""
    found: list[tuple[IdentifierKind, str]] = []
    for name, value in traits.items():
        kind = contact_kind(name)
        if kind is not None and (normalized := normalize(kind, value, region=region)) is not None:
            found.append((kind, normalized))
    return found


def normalize(kind: IdentifierKind, value: object, *, region: str | None = None) -> str | None:
    """The one normal form of an identifier of this kind; None when it is not one."""
    if not isinstance(value, str) or not value or len(value) > 4 * MAX_IDENTIFIER:
        return None
    if kind is IdentifierKind.EMAIL:
        return normalize_email(value)
    if kind is IdentifierKind.PHONE:
        return normalize_phone(value, region=region)
    stripped = value.strip()
    return stripped if 0 < len(stripped) <= MAX_IDENTIFIER else None


def normalize_email(value: str) -> str | None:
    """NFKC, trimmed, the address of a display-name form ("Ana <ana@example.com>"), case-folded, the
    domain's trailing dot removed and an international domain in its punycode (ASCII) form. Plus
    addressing is kept: ana+shop@ and ana@ are different mailboxes. None unless local@domain.with.dot."""
    text = unicodedata.normalize("NFKC", value).strip()
    if "<" in text:
        text = parseaddr(text)[1]
    local, at, domain = text.partition("@")
    if domain.endswith(".") and not domain.endswith(".."):
        domain = domain[:-1]
    if not at or not domain or not _EMAIL_LOCAL.fullmatch(local):
        return None
    try:
        ascii_domain = idna.encode(domain, uts46=True).decode()
    except idna.IDNAError:
        return None
    labels = ascii_domain.split(".")
    normalized = f"{local.casefold()}@{ascii_domain}"
    if len(normalized) > 254 or len(labels) < 2 or not all(_EMAIL_LABEL.fullmatch(x) for x in labels):
        return None
    return normalized


def normalize_phone(value: str, *, region: str | None = None) -> str | None:
    """E.164 (+ country code and number), parsed by `phonenumbers`; a national number needs the
    workspace's default `region` (ISO 3166 code such as "GB"); None unless a possible number."""
    text = unicodedata.normalize("NFKC", value).strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    if len(text) > 64:
        return None
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException:
        return None
    if number.extension or not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_region(code: str) -> bool:
    """An ISO 3166 region that phone numbers can be read in (as `phonenumbers` knows them)."""
    return code in phonenumbers.SUPPORTED_REGIONS
