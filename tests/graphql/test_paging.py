"""Every list field pages the same way: 1 to 500 items, refused (not clamped) outside that, and
cursors that carry on exactly where the previous page ended."""

from datetime import UTC, datetime, timedelta

import pytest

from privacy.erasure import DsrKind, Regulation
from server.storage.dsr_requests import DsrRequests
from tests.conftest import Api

LISTS = [
    "{ profiles(first: $first) { edges { cursor } } }",
    '{ journey(profileId: "prf_x", first: $first) { edges { cursor } } }',
    "{ dsrRequests(first: $first) { edges { cursor } } }",
    "{ auditLog(first: $first) { edges { cursor } } }",
    "{ webhookDeliveries(first: $first) { id } }",
    "{ unplannedEvents(first: $first) { name } }",
]


def _document(selection: str) -> str:
    return "query($first: Int!) " + selection


@pytest.mark.parametrize("selection", LISTS)
async def test_a_page_over_500_is_refused_as_too_large(api: Api, selection: str) -> None:
    body = await api.gql(_document(selection), {"first": 501})
    assert [e["extensions"]["code"] for e in body["errors"]] == ["PAGE_TOO_LARGE"]
    assert "501" not in body["errors"][0]["message"]


@pytest.mark.parametrize("selection", LISTS)
async def test_a_page_under_1_is_refused_as_out_of_range(api: Api, selection: str) -> None:
    body = await api.gql(_document(selection), {"first": 0})
    assert [e["extensions"]["code"] for e in body["errors"]] == ["OUT_OF_RANGE"]


@pytest.mark.parametrize(
    "selection",
    [
        '{ profiles(after: "prf_1") { edges { cursor } } }',
        '{ journey(profileId: "prf_x", after: "prf_1") { edges { cursor } } }',
        '{ dsrRequests(after: "dsr_1") { edges { cursor } } }',
        '{ auditLog(after: "65f0c0ffee") { edges { cursor } } }',
    ],
)
async def test_a_cursor_this_api_did_not_issue_is_refused(api: Api, selection: str) -> None:
    body = await api.gql(selection)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["INVALID_CURSOR"]


async def test_a_full_page_of_500_requests_says_more_follow(api: Api) -> None:
    requests = DsrRequests(api.db)
    now = datetime.now(UTC)
    for _ in range(501):
        await requests.create(
            "default",
            kind=DsrKind.OPT_OUT,
            regulation=Regulation.CCPA,
            received_at=now,
            deadline=now + timedelta(days=45),
            requested_by="test",
            subject_hashes=[],
            profile_ids=[],
            expire_at=now + timedelta(days=1),
        )
    query = "query($after: String) { dsrRequests(first: 500, after: $after) { edges { cursor } pageInfo { hasNextPage endCursor } } }"
    first = (await api.gql(query))["data"]["dsrRequests"]
    assert (len(first["edges"]), first["pageInfo"]["hasNextPage"]) == (500, True)
    rest = (await api.gql(query, {"after": first["pageInfo"]["endCursor"]}))["data"]["dsrRequests"]
    assert (len(rest["edges"]), rest["pageInfo"]["hasNextPage"]) == (1, False)


async def test_audit_entries_page_newest_first_without_gaps_or_repeats(api: Api) -> None:
    for name in ("k1", "k2", "k3"):
        await api.key("ANALYST", name)
    query = """query($after: String) { auditLog(action: "api_key.created", first: 2, after: $after) {
      edges { node { id } } pageInfo { hasNextPage endCursor } } }"""
    first = (await api.gql(query))["data"]["auditLog"]
    second = (await api.gql(query, {"after": first["pageInfo"]["endCursor"]}))["data"]["auditLog"]
    ids = [e["node"]["id"] for page in (first, second) for e in page["edges"]]
    assert (len(ids), len(set(ids)), first["pageInfo"]["hasNextPage"]) == (3, 3, True)
    assert second["pageInfo"]["hasNextPage"] is False
