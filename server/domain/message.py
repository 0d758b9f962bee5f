"""A validated message prepared for judging: the event part minimized, valued and given its channel
before any profile is read, so the unit of work that stores it only decides what depends on state."""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from privacy.consent import Decision
from privacy.minimization import minimize_context, minimize_properties, scrub_text
from server.domain.channel import channel_name
from server.domain.taxonomy import EventDefinition, value_for

_SEPARATORS = re.compile(r"[.:-]")
_MAYBE_PII = re.compile(r"[\d@]")  # only a name with a digit or an @ can hold a number or an address

# Messages that change who someone is, not what they did: stored as receipts, never scored.
IDENTITY_TYPES = frozenset({"identify", "alias", "group"})


@dataclass(frozen=True, slots=True)
class Behaviour:
    """The event part of a track, page or screen message, as it will be stored."""

    name: str
    definition: EventDefinition | None
    properties: dict[str, Any]
    context: dict[str, Any]
    channel: str
    campaign: str | None
    value: float


@dataclass(frozen=True, slots=True)
class Identifiers:
    """Keyed hashes (never the values) of every identifier a message carries, by role."""

    user: str | None = None
    anonymous: str | None = None
    previous_user: str | None = None  # an alias's previousId, if it is a user id
    previous_anonymous: str | None = None  # ... or an anonymous id
    contacts: tuple[tuple[str, str], ...] = ()  # (kind, hash) of e-mails and phones among the traits

    def hashes(self) -> list[str]:
        ids = (self.user, self.anonymous, self.previous_user, self.previous_anonymous)
        return [h for h in ids if h is not None] + [h for _, h in self.contacts]


@dataclass(frozen=True, slots=True)
class Message:
    index: int  # in the caller's batch
    type: str
    message_id: str
    at: datetime  # the event's time, skew-corrected
    user_id: str | None
    anonymous_id: str | None
    previous_id: str | None
    group_id: str | None
    decisions: tuple[Decision, ...]
    policy_version: str | None
    traits: Mapping[str, Any]  # the customer's (a group call's traits are the group's, below)
    behaviour: Behaviour | None
    ids: Identifiers = field(default_factory=Identifiers)
    group_traits: Mapping[str, Any] = field(default_factory=dict)


def event_name(kind: str, event: str | None) -> str:
    """Segment's "Product Viewed" and our product_viewed are the same event; page and screen calls are
    page_viewed and screen_viewed. Names are free text: e-mails and numbers in them are removed."""
    if kind == "page":
        return "page_viewed"
    if kind == "screen":
        return "screen_viewed"
    assert event is not None
    name = "_".join(_SEPARATORS.sub(" ", event).split()).lower()
    return scrub_text(name)[0] if _MAYBE_PII.search(name) else name


def behaviour(
    name: str,
    definition: EventDefinition | None,
    properties: Mapping[str, Any],
    context: Mapping[str, Any],
    own_hosts: frozenset[str],
) -> Behaviour:
    """Minimized properties (the definition's allow-list) and context, the value and the channel."""
    kept, _ = minimize_properties(properties, definition.allowed_properties if definition else None)
    minimized, _ = minimize_context(context)
    page = context.get("page")
    page = page if isinstance(page, Mapping) else {}
    campaign = context.get("campaign")
    channel = channel_name(
        explicit=_text(context.get("channel")),
        campaign=campaign if isinstance(campaign, Mapping) else None,
        url=_text(page.get("url")),
        referrer=_text(page.get("referrer")),
        own_hosts=own_hosts,
    )
    kept_campaign = minimized.get("campaign")
    return Behaviour(
        name=name,
        definition=definition,
        properties=kept,
        context=minimized,
        channel=channel,
        campaign=_text(kept_campaign.get("name")) if isinstance(kept_campaign, Mapping) else None,
        value=value_for(definition, kept),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
