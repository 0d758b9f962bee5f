"""The data-subject export document (GDPR Arts. 15/20, CCPA access): its JSON Schema and sections.

The document is streamed: `header`, then one `event` per event, then `footer`; concatenated they
form one JSON object that validates against EXPORT_SCHEMA.
"""

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

EXPORT_SCHEMA_ID = "https://granular.dev/schemas/export-v1.json"

EXPORT_SCHEMA: Mapping[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": EXPORT_SCHEMA_ID,
    "title": "Granular data-subject export",
    "type": "object",
    "required": ["schema", "request", "found", "profiles", "consentHistory", "events", "dsrHistory"],
    "properties": {
        "schema": {"const": EXPORT_SCHEMA_ID},
        "request": {
            "type": "object",
            "required": ["id", "regulation", "generatedAt"],
            "properties": {
                "id": {"type": "string"},
                "regulation": {"enum": ["GDPR", "CCPA"]},
                "generatedAt": {"type": "string", "format": "date-time"},
            },
        },
        "found": {"type": "boolean", "description": "false: we hold no data about this subject"},
        "profiles": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "anonymousIds", "traits", "consent", "scores"],
                "properties": {
                    "id": {"type": "string"},
                    "userId": {"type": ["string", "null"]},
                    "userAliases": {"type": "array", "items": {"type": "string"}},
                    "anonymousIds": {"type": "array", "items": {"type": "string"}},
                    "mergedInto": {"type": ["string", "null"]},
                    "groups": {"type": "array", "items": {"type": "string"}, "description": "group ids"},
                    "traits": {"type": "object", "description": "all traits, personal ones decrypted"},
                    "consent": {"type": "object"},
                    "scores": {"type": "object"},
                    "audiences": {
                        "type": "object",
                        "description": "audience memberships now and every entry and exit, with times",
                    },
                },
            },
        },
        "consentHistory": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["profileId", "purpose", "granted", "source", "at"],
                "properties": {
                    "profileId": {"type": "string"},
                    "purpose": {"type": "string"},
                    "granted": {"type": "boolean"},
                    "source": {"type": "string"},
                    "policyVersion": {"type": ["string", "null"]},
                    "at": {
                        "type": "string",
                        "format": "date-time",
                        "description": "when the decision took effect",
                    },
                    "recordedAt": {"type": "string", "format": "date-time"},
                    "prevHash": {"type": "string", "description": "the entry before it ('' first)"},
                    "hash": {
                        "type": "string",
                        "description": "SHA-256 of the entry's canonical JSON (README: the consent ledger)",
                    },
                },
            },
        },
        "events": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["event", "timestamp", "properties"],
                "properties": {
                    "event": {"type": "string"},
                    "type": {"type": "string"},
                    "timestamp": {"type": "string", "format": "date-time"},
                    "channel": {"type": "string"},
                    "properties": {"type": "object"},
                    "context": {"type": "object"},
                },
            },
        },
        "dsrHistory": {"type": "array", "items": {"type": "object"}},
    },
}


def _json(value: Any) -> str:
    return json.dumps(value, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v))


def header(
    *,
    request_id: str,
    regulation: str,
    generated_at: datetime,
    profiles: Sequence[Mapping[str, Any]],
    consent_history: Sequence[Mapping[str, Any]],
) -> str:
    """Everything before the events array's first item."""
    head = {
        "schema": EXPORT_SCHEMA_ID,
        "request": {"id": request_id, "regulation": regulation, "generatedAt": generated_at},
        "found": bool(profiles),
        "profiles": list(profiles),
        "consentHistory": list(consent_history),
    }
    return _json(head)[:-1] + ', "events": ['


def event(item: Mapping[str, Any], *, first: bool) -> str:
    return ("" if first else ",") + _json(item)


def footer(dsr_history: Sequence[Mapping[str, Any]]) -> str:
    return '], "dsrHistory": ' + _json(list(dsr_history)) + "}"
