"""Which traits are personal data, and the normal forms used to look them up."""

import re
from collections.abc import Mapping

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


def _name_key(name: str) -> str:
    return re.sub(r"[\s_-]", "", name).casefold()


_STANDARD_KEYS = frozenset(map(_name_key, STANDARD_PII_TRAITS))
_EMAIL_LOCAL = re.compile(r"[^\s@\"(),:;<>\[\]\\]{1,64}")
_EMAIL_LABEL = re.compile(r"[\w-]{1,63}")
_PHONE_SEPARATORS = re.compile(r"[\s\-.()\u2010-\u2015\u2212]")
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")


def is_pii_trait(name: str, workspace_pii: frozenset[str] = frozenset()) -> bool:
    """Personal when the standard or the workspace's list names it (case, `_`, `-` and spaces ignored)."""
    key = _name_key(name)
    return key in _STANDARD_KEYS or any(_name_key(listed) == key for listed in workspace_pii)


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


def normalize_email(value: str) -> str | None:
    """Trimmed and lower-cased; None unless it is local@domain with a dotted domain."""
    normalized = value.strip().lower()
    local, at, domain = normalized.partition("@")
    labels = domain.split(".")
    if (
        not at
        or len(normalized) > 254
        or not _EMAIL_LOCAL.fullmatch(local)
        or len(labels) < 2
        or not all(_EMAIL_LABEL.fullmatch(label) for label in labels)
    ):
        return None
    return normalized


def normalize_phone(value: str) -> str | None:
    """E.164: + or 00, then 8–15 digits once spaces, dashes, dots and parens go; no region is guessed."""
    # "+44 (0)20 …": the bracketed trunk zero is not dialled from abroad, so it is not part of the number.
    compact = _PHONE_SEPARATORS.sub("", value.replace("(0)", ""))
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    return compact if _E164.fullmatch(compact) else None
