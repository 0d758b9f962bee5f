"""Small builders for test messages; every value a test depends on is passed explicitly."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

ALL_GRANTED = {
    "analytics": True,
    "personalization": True,
    "marketing_email": True,
    "marketing_sms": True,
    "advertising": True,
}


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


def track(
    event: str = "product_viewed",
    *,
    user_id: str | None = None,
    anonymous_id: str | None = "anon-1",
    at: datetime | None = None,
    properties: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    consent: dict[str, bool] | None = ALL_GRANTED,
    message_id: str | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "track",
        "event": event,
        "messageId": message_id or str(uuid.uuid4()),
        "timestamp": iso(at or ago(minutes=5)),
        "properties": properties or {},
        "context": dict(context or {}),
    }
    if consent is not None:
        message["context"]["consent"] = {"categoryPreferences": consent}
    if user_id is not None:
        message["userId"] = user_id
    if anonymous_id is not None:
        message["anonymousId"] = anonymous_id
    return message
