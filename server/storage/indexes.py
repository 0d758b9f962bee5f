"""Every index Granular relies on, created idempotently at start-up."""

import pymongo
from pymongo import ASCENDING, DESCENDING, IndexModel

from server.storage.client import Database
from server.storage.retention import TTL_INDEX

INDEXES: dict[str, list[IndexModel]] = {
    "workspaces": [],
    "custom_channels": [],  # one document per workspace, by _id
    "api_keys": [
        IndexModel([("digest", ASCENDING)], unique=True, name="digest_unique"),
        IndexModel([("workspace_id", ASCENDING), ("created_at", DESCENDING)], name="by_workspace"),
    ],
    "events": [
        IndexModel(
            [("workspace_id", ASCENDING), ("message_id", ASCENDING)],
            unique=True,
            name="message_id_unique",
        ),
        IndexModel(
            [("workspace_id", ASCENDING), ("profile_id", ASCENDING), ("timestamp", ASCENDING)],
            name="by_profile_time",
        ),
        IndexModel([("workspace_id", ASCENDING), ("timestamp", ASCENDING)], name="by_time"),
        # The per-profile fields of a page read its profiles' events with one `profile_id: {$in}`.
        # MongoDB answers that from by_profile_time; the embedded database only from an index
        # that starts with the field (else it scans every event).
        IndexModel([("profile_id", ASCENDING)], name="by_profile"),
        TTL_INDEX,
    ],
    "profiles": [
        IndexModel(
            [("workspace_id", ASCENDING), ("user_id", ASCENDING)],
            unique=True,
            partialFilterExpression={"user_id": {"$type": "string"}},
            name="user_id_unique",
        ),
        IndexModel([("workspace_id", ASCENDING), ("anonymous_ids", ASCENDING)], name="by_anonymous_id"),
        IndexModel([("workspace_id", ASCENDING), ("blind_index", ASCENDING)], name="by_blind_index"),
        IndexModel([("workspace_id", ASCENDING), ("merged_into", ASCENDING)], name="by_merged_into"),
        # The retention sweep looks for profiles whose oldest scored event has expired.
        IndexModel([("workspace_id", ASCENDING), ("first_seen", ASCENDING)], name="by_first_seen"),
        TTL_INDEX,
    ],
    "consent_ledger": [
        IndexModel(
            [("workspace_id", ASCENDING), ("profile_id", ASCENDING), ("seq", ASCENDING)],
            unique=True,
            name="chain_order",
        ),
        TTL_INDEX,
    ],
    "merges": [
        IndexModel([("workspace_id", ASCENDING), ("winner_id", ASCENDING)], name="by_winner"),
        IndexModel([("workspace_id", ASCENDING), ("loser_id", ASCENDING)], name="by_loser"),
    ],
    "taxonomy": [
        IndexModel([("workspace_id", ASCENDING), ("name", ASCENDING)], unique=True, name="name_unique"),
    ],
    "unplanned_events": [
        IndexModel([("workspace_id", ASCENDING), ("name", ASCENDING)], unique=True, name="name_unique"),
    ],
    "audit_log": [
        IndexModel([("workspace_id", ASCENDING), ("at", DESCENDING)], name="by_time"),
        IndexModel(
            [("workspace_id", ASCENDING), ("profile_id", ASCENDING), ("at", DESCENDING)],
            name="by_profile",
        ),
        TTL_INDEX,
    ],
    "data_keys": [
        IndexModel(
            [("workspace_id", ASCENDING), ("profile_id", ASCENDING)],
            unique=True,
            name="profile_unique",
        ),
    ],
    "dsr_requests": [
        IndexModel(
            [("workspace_id", ASCENDING), ("status", ASCENDING), ("deadline", ASCENDING)],
            name="queue",
        ),
        IndexModel([("workspace_id", ASCENDING), ("received_at", DESCENDING)], name="newest_first"),
        TTL_INDEX,
    ],
    # Keyed by the identifier's keyed hash (`_id`); erasure also finds the ones pointing at a profile.
    "identities": [
        IndexModel([("workspace_id", ASCENDING), ("profile_id", ASCENDING)], name="by_profile"),
    ],
    "groups": [
        IndexModel([("workspace_id", ASCENDING), ("group_id", ASCENDING)], unique=True, name="group_unique"),
    ],
    "receipts": [
        IndexModel(
            [("workspace_id", ASCENDING), ("message_id", ASCENDING)],
            unique=True,
            name="message_id_unique",
        ),
        IndexModel([("workspace_id", ASCENDING), ("profile_id", ASCENDING)], name="by_profile"),
        TTL_INDEX,
    ],
    "triggers": [IndexModel([("workspace_id", ASCENDING)], name="by_workspace")],
    "deliveries": [
        IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)], name="due"),
        IndexModel([("workspace_id", ASCENDING), ("created_at", DESCENDING)], name="log"),
    ],
    # Members are read by `_id` ranges ("<audience>:<profile>"); a profile's by this single field.
    "audiences": [IndexModel([("workspace_id", ASCENDING)], name="by_workspace")],
    "audience_members": [IndexModel([("profile_id", ASCENDING)], name="by_profile")],
    "audience_changes": [
        IndexModel([("audience_id", ASCENDING), ("at", ASCENDING)], name="by_audience_time"),
        # A report restricted to an audience as of a past `to` joins each profile's latest change up
        # to then: equality on profile and audience, the newest `at` (then `_id`) first, one key read.
        # Led by `profile_id`, the join's field, so the embedded database drives the `$lookup` by it;
        # it also serves a profile's history (export, erasure).
        IndexModel(
            [("profile_id", ASCENDING), ("audience_id", ASCENDING), ("at", ASCENDING), ("_id", ASCENDING)],
            name="membership_as_of",
        ),
    ],
    "model_fits": [
        IndexModel([("workspace_id", ASCENDING), ("kind", ASCENDING), ("as_of", DESCENDING)], name="latest"),
    ],
}


# A new index is built over the documents already stored: on the embedded database that takes
# about 2 ms per document, far past the budget of one request.
INDEX_BUILD_SECONDS = 600


# Indexes an earlier version built that no longer serve a query: every write would still pay for them.
RETIRED: dict[str, list[str]] = {
    "audience_changes": ["by_profile"],  # membership_as_of starts with the same field
}


async def ensure_indexes(db: Database) -> None:
    """Create the collections' indexes and drop retired ones; re-running is a no-op."""
    with pymongo.timeout(INDEX_BUILD_SECONDS):
        for collection, models in INDEXES.items():
            if models:
                await db[collection].create_indexes(models)
        for collection, names in RETIRED.items():
            built = {index["name"] async for index in await db[collection].list_indexes()}
            for name in names:
                if name in built:
                    await db[collection].drop_index(name)
