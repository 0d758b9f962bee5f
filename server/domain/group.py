"""A group: the account or household a `group` call names, with traits of its own (personal ones
encrypted like a profile's)."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from server.domain.profile import Trait


@dataclass(frozen=True)
class Group:
    id: str  # the caller's groupId
    traits: Mapping[str, Trait] = field(default_factory=dict)
    pii: Mapping[str, tuple[bytes, datetime]] = field(default_factory=dict)  # encrypted, per field


def key_owner(group_id: str) -> str:
    """Whose data key encrypts a group's personal traits (data keys are kept per owner)."""
    return "group:" + group_id
