"""One validation pass over a Segment-shaped message: what the caller sent, checked field by field.

Both `trackEvents` and `/v1/*` hand raw dicts here, so the rules (and their codes) are the same.
"""

import hashlib
import json
import re
import secrets
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from server.domain.errors import InvalidInput
from server.domain.message_shape import shape_problem

MAX_BATCH_EVENTS = 500
MAX_FUTURE = timedelta(days=1)

# Ids that broken instrumentation sends for everyone; linking on them would merge strangers.
JUNK_IDS = frozenset(
    {"", "anonymous", "null", "none", "undefined", "0", "-1", "[object object]", "nan", "unknown"}
)
_EVENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9 _.:-]{0,99}$")


def _check_id(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if value.lower() in JUNK_IDS:
        raise ValueError("junk id")
    return value


class EventPayload(BaseModel):
    """A Segment message; unknown top-level fields are refused, Segment's own are tolerated."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_max_length=4096)

    type: Literal["track", "page", "screen", "identify", "alias", "group"] = "track"
    event: str | None = Field(default=None, max_length=100)
    name: str | None = Field(default=None, max_length=200)
    message_id: str | None = Field(default=None, alias="messageId", min_length=1, max_length=128)
    user_id: str | None = Field(default=None, alias="userId", max_length=256)
    anonymous_id: str | None = Field(default=None, alias="anonymousId", max_length=256)
    previous_id: str | None = Field(default=None, alias="previousId", max_length=256)
    timestamp: datetime | None = None
    original_timestamp: datetime | None = Field(default=None, alias="originalTimestamp")
    sent_at: datetime | None = Field(default=None, alias="sentAt")
    properties: dict[str, Any] = Field(default_factory=dict)
    traits: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)
    # Sent by Segment's libraries; accepted and ignored.
    integrations: Any = None
    metadata: Any = Field(default=None, alias="_metadata")
    write_key: Any = Field(default=None, alias="writeKey")
    version: Any = None
    channel: Any = None
    received_at: Any = Field(default=None, alias="receivedAt")
    category: Any = None
    group_id: str | None = Field(default=None, alias="groupId", max_length=256)

    _check_ids = field_validator("user_id", "anonymous_id", "previous_id", "group_id")(_check_id)

    @field_validator("timestamp", "original_timestamp", "sent_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("timestamp without a time zone")
        return value


_RULES = {
    "UNKNOWN_FIELD": "not a field of a Segment message",
    "FIELD_TOO_LONG": "ids at most 256 characters, event names 100, other text 4,096",
    "INVALID_TYPE": "one of track, page, screen, identify, alias, group",
    "INVALID_TIMESTAMP": "an ISO-8601 time with a time zone",
    "INVALID_FIELD": "the type Segment's spec gives it",
}
_CODES = {
    "extra_forbidden": "UNKNOWN_FIELD",
    "missing": "MISSING_FIELD",
    "string_too_long": "FIELD_TOO_LONG",
    "literal_error": "INVALID_TYPE",
}


_ALIASES = {name: info.alias or name for name, info in EventPayload.model_fields.items()}
FIELDS = frozenset(_ALIASES.values())


_NAME_LIKE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def _field_path(loc: tuple[int | str, ...]) -> str:
    # A field name, never more: a key that does not look like a name may carry anything (an e-mail).
    first = str(loc[0]) if loc else "event"
    return _ALIASES.get(first, first if _NAME_LIKE.fullmatch(first) else "event")


def parse(raw: object) -> EventPayload:
    """The validated message, or InvalidInput naming the field and the rule it broke."""
    if not isinstance(raw, dict):
        raise InvalidInput("Each event must be a JSON object.", field="event", code="INVALID_EVENT")
    if (problem := shape_problem(raw, FIELDS)) is not None:
        raise InvalidInput(problem.message, field=problem.field, code=problem.code)
    try:
        payload = EventPayload.model_validate(raw)
    except ValidationError as error:
        detail = error.errors(include_input=False, include_url=False)[0]
        field = _field_path(detail["loc"])
        if "junk id" in detail["msg"]:
            raise InvalidInput(
                f"`{field}` is a placeholder id, not an id.", field=field, code="INVALID_ID"
            ) from None
        code = _CODES.get(detail["type"], "INVALID_FIELD")
        if field in ("timestamp", "originalTimestamp", "sentAt"):
            code = "INVALID_TIMESTAMP"
        raise InvalidInput(
            f"`{field}` is invalid: {_RULES.get(code, 'see the Segment spec')}.", field=field, code=code
        ) from None
    if payload.type != "alias" and payload.user_id is None and payload.anonymous_id is None:
        raise InvalidInput(
            "An event needs `userId` or `anonymousId`.", field="userId", code="MISSING_IDENTITY"
        )
    if payload.type == "alias" and (payload.previous_id is None or payload.user_id is None):
        raise InvalidInput(
            "An alias needs `previousId` and `userId`.", field="previousId", code="MISSING_IDENTITY"
        )
    if payload.type == "group" and payload.group_id is None:
        raise InvalidInput("A group call needs `groupId`.", field="groupId", code="MISSING_GROUP_ID")
    if payload.type == "track":
        if not payload.event:
            raise InvalidInput("A track event needs `event`.", field="event", code="MISSING_EVENT_NAME")
        if not _EVENT_NAME.match(payload.event):
            raise InvalidInput("`event` is not a valid event name.", field="event", code="INVALID_EVENT_NAME")
    return payload


def event_time(payload: EventPayload, received_at: datetime) -> datetime:
    """Segment's skew correction: timestamp = receivedAt − (sentAt − originalTimestamp)."""
    sent = payload.timestamp or payload.original_timestamp
    if sent is None:
        return received_at
    if payload.sent_at is not None:
        return received_at - (payload.sent_at - sent)
    return sent


def message_id(payload: EventPayload, raw: dict[str, Any]) -> str:
    """The caller's messageId; else, for a timestamped event, one derived from its content, so a
    resent batch still dedupes; else a random one (an untimed event cannot be told from its twin)."""
    if payload.message_id is not None:
        return payload.message_id
    if payload.timestamp is None and payload.original_timestamp is None:
        return "gen-" + secrets.token_hex(20)
    stable = {k: v for k, v in raw.items() if k not in ("sentAt", "_metadata", "receivedAt")}
    digest = hashlib.sha256(json.dumps(stable, sort_keys=True, default=str).encode()).hexdigest()
    return "gen-" + digest[:40]
