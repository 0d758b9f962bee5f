"""Which traits are personal data, and the normal forms used to look them up."""

import re
from collections.abc import Mapping
from typing import Any

from privacy.minimization import scrub_value

STANDARD_PII_TRAITS = frozenset(
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
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$")


def is_pii_trait(name: str, workspace_pii: frozenset[str] = frozenset()) -> bool:
    """A trait is personal if the standard list or the workspace's own list names it."""
    return name in STANDARD_PII_TRAITS or name in workspace_pii


def split_traits(
    traits: Mapping[str, Any], workspace_pii: frozenset[str] = frozenset()
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(plain, personal): plain strings are scrubbed, so PII hiding in a free-text trait goes too."""
    plain: dict[str, Any] = {}
    personal: dict[str, Any] = {}
    for name, value in traits.items():
        if is_pii_trait(name, workspace_pii):
            personal[name] = value
        else:
            plain[name] = scrub_value(value)[0]
    return plain, personal


def normalize_email(value: str) -> str | None:
    """Trimmed and lower-cased; None unless it looks like an address."""
    normalized = value.strip().lower()
    return normalized if _EMAIL.match(normalized) else None


def normalize_phone(value: str) -> str | None:
    """E.164 (+ and 8–15 digits) from + or 00 prefixed input; no region is guessed."""
    compact = re.sub(r"[\s\-.()]", "", value.strip())
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if re.fullmatch(r"\+\d{8,15}", compact):
        return compact
    return None
