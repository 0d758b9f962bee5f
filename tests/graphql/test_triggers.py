import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.domain.taxonomy import Phase
from server.domain.triggers import Trigger, signature
from server.services.triggers import TriggerService
from server.storage.embedded import free_port
from server.storage.triggers import Triggers
from server.storage.workspaces import Workspaces
from tests.conftest import Api
from tests.factories import ago, iso, track
from tests.graphql.test_track_events import TRACK

DEFINE = """mutation($url: String!, $since: DateTime) { defineTrigger(input: {name: "abandoned checkout",
  action: "abandoned-checkout", reachedPhase: INTENT, withinMinutes: 60, url: $url, since: $since}) {
  trigger { id since } secret } }"""
# The journeys these tests make start before the rule is defined: it must look back to see them.
SINCE_YESTERDAY = iso(ago(days=1))


class Receiver:
    """A real HTTP endpoint on loopback that records webhooks; it can fail the first few."""

    def __init__(self, failures: int = 0) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.failures = failures
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"

    async def hook(self, request: Request) -> Response:
        self.received.append((dict(request.headers), await request.body()))
        if self.failures:
            self.failures -= 1
            return Response(status_code=500)
        return Response(status_code=204)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    target = Receiver(failures=1)
    app = Starlette(routes=[Route("/hook", target.hook, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=target.port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield target
    server.should_exit = True
    thread.join(10)


def _service(api: Api, now: datetime) -> TriggerService:
    return TriggerService(Triggers(api.db), Workspaces(api.db), clock=lambda: now)


async def test_a_quiet_checkout_fires_one_signed_webhook_retried_with_back_off(
    api: Api, receiver: Receiver
) -> None:
    created = (await api.gql(DEFINE, {"url": receiver.url, "since": SINCE_YESTERDAY}))["data"][
        "defineTrigger"
    ]
    await api.gql(
        TRACK, {"events": [track("checkout_started", user_id="u1", anonymous_id=None, at=ago(minutes=90))]}
    )
    now = datetime.now(UTC)

    await _service(api, now).run_once()  # the receiver fails this one
    assert len(receiver.received) == 1
    await _service(api, now + timedelta(seconds=10)).run_once()  # too early for a retry
    assert len(receiver.received) == 1
    await _service(api, now + timedelta(seconds=31)).run_once()  # back-off passed: retried
    await _service(api, now + timedelta(hours=2)).run_once()  # delivered already: nothing more
    assert len(receiver.received) == 2

    headers, body = receiver.received[-1]
    expected = signature(created["secret"], headers["x-granular-timestamp"], body)
    assert headers["x-granular-signature"] == f"sha256={expected}"
    payload: dict[str, Any] = json.loads(body)
    assert (payload["action"], payload["phase"]) == ("abandoned-checkout", "INTENT")
    log = (await api.gql("{ webhookDeliveries { status attempts lastStatus } }"))["data"]["webhookDeliveries"]
    assert log == [{"status": "DELIVERED", "attempts": 2, "lastStatus": "204"}]


async def test_no_webhook_before_the_quiet_period_or_after_a_purchase(api: Api, receiver: Receiver) -> None:
    await api.gql(DEFINE, {"url": receiver.url, "since": SINCE_YESTERDAY})
    await api.gql(
        TRACK,
        {
            "events": [
                track("checkout_started", user_id="recent", anonymous_id=None, at=ago(minutes=10)),
                track("checkout_started", user_id="buyer", anonymous_id=None, at=ago(minutes=120)),
                track(
                    "order_completed",
                    user_id="buyer",
                    anonymous_id=None,
                    at=ago(minutes=100),
                    properties={"revenue": 5},
                ),
            ]
        },
    )
    await _service(api, datetime.now(UTC)).run_once()
    assert receiver.received == []


async def test_no_webhook_without_personalization_consent(api: Api, receiver: Receiver) -> None:
    await api.gql(DEFINE, {"url": receiver.url, "since": SINCE_YESTERDAY})
    await api.gql(
        TRACK,
        {
            "events": [
                track(
                    "checkout_started",
                    user_id="u2",
                    anonymous_id=None,
                    at=ago(minutes=90),
                    consent={"analytics": True},
                )
            ]
        },
    )
    await _service(api, datetime.now(UTC)).run_once()
    assert receiver.received == []


async def test_a_trigger_needs_an_http_url(api: Api) -> None:
    body = await api.gql(DEFINE, {"url": "file:///etc/passwd"})
    assert body["errors"][0]["extensions"] == {"code": "INVALID_URL", "field": "url"}


@pytest.mark.parametrize(
    "url",
    [
        "http://\u0000x/",
        "http://hooks.example/\u0000",
        "http://hooks.example/a b",
        "http://hooks.example/\x7f",
    ],
)
async def test_a_url_with_a_nul_control_character_or_space_is_refused(api: Api, url: str) -> None:
    body = await api.gql(DEFINE, {"url": url})
    assert body["errors"][0]["extensions"] == {"code": "INVALID_URL", "field": "url"}
    assert await api.db["triggers"].count_documents({}) == 0


async def test_a_delivery_that_raises_an_unexpected_error_does_not_stop_the_others(
    api: Api, receiver: Receiver
) -> None:
    # A rule stored before URLs were checked: httpx refuses it when sending (InvalidURL is no
    # HTTPError), which used to end the evaluator for every workspace.
    poisoned = Trigger("", "old", "old-rule", Phase.INTENT, timedelta(minutes=60), "http://\u0000x/", None)
    await Triggers(api.db).insert("default", poisoned, "whsec_old", datetime.now(UTC) - timedelta(days=2))
    await api.gql(DEFINE, {"url": receiver.url, "since": SINCE_YESTERDAY})
    await api.gql(
        TRACK, {"events": [track("checkout_started", user_id="u1", anonymous_id=None, at=ago(minutes=90))]}
    )
    await _service(api, datetime.now(UTC)).run_once()
    assert len(receiver.received) == 1
    log = (await api.gql("{ webhookDeliveries { status lastStatus } }"))["data"]["webhookDeliveries"]
    assert sorted(row["lastStatus"] for row in log) == ["500", "InvalidURL"]


async def test_a_new_trigger_ignores_journeys_that_went_quiet_before_it_was_defined(
    api: Api, receiver: Receiver
) -> None:
    await api.gql(
        TRACK,
        {"events": [track("checkout_started", user_id="u1", anonymous_id=None, at=ago(days=3))]},
    )
    await api.gql(DEFINE, {"url": receiver.url})
    await _service(api, datetime.now(UTC)).run_once()
    assert receiver.received == []


async def test_since_lets_a_new_trigger_look_back(api: Api, receiver: Receiver) -> None:
    await api.gql(
        TRACK,
        {"events": [track("checkout_started", user_id="u1", anonymous_id=None, at=ago(days=3))]},
    )
    await api.gql(DEFINE, {"url": receiver.url, "since": iso(ago(days=4))})
    await _service(api, datetime.now(UTC)).run_once()
    assert len(receiver.received) == 1


UPDATE = """mutation($id: ID!, $input: TriggerUpdateInput!) { updateTrigger(id: $id, input: $input) {
  id name withinMinutes url } }"""


async def test_update_trigger_changes_only_the_given_fields(api: Api) -> None:
    created = (await api.gql(DEFINE, {"url": "https://hooks.example/a"}))["data"]["defineTrigger"]
    body = await api.gql(UPDATE, {"id": created["trigger"]["id"], "input": {"withinMinutes": 15}})
    assert body["data"]["updateTrigger"] == {
        "id": created["trigger"]["id"],
        "name": "abandoned checkout",
        "withinMinutes": 15,
        "url": "https://hooks.example/a",
    }


async def test_update_trigger_checks_the_url_like_define(api: Api) -> None:
    created = (await api.gql(DEFINE, {"url": "https://hooks.example/a"}))["data"]["defineTrigger"]
    body = await api.gql(UPDATE, {"id": created["trigger"]["id"], "input": {"url": "http://\u0000x/"}})
    assert body["errors"][0]["extensions"] == {"code": "INVALID_URL", "field": "url"}
    assert (await api.gql("{ triggers { url } }"))["data"]["triggers"] == [{"url": "https://hooks.example/a"}]


async def test_delete_trigger_removes_the_rule_and_cancels_what_it_owed(api: Api, receiver: Receiver) -> None:
    created = (await api.gql(DEFINE, {"url": receiver.url, "since": SINCE_YESTERDAY}))["data"][
        "defineTrigger"
    ]
    await api.gql(
        TRACK, {"events": [track("checkout_started", user_id="u1", anonymous_id=None, at=ago(minutes=90))]}
    )
    await _service(api, datetime.now(UTC)).run_once()  # the receiver fails it: a retry is owed
    deleted = await api.gql("mutation($id: ID!) { deleteTrigger(id: $id) }", {"id": created["trigger"]["id"]})
    assert deleted["data"] == {"deleteTrigger": True}
    assert (await api.gql("{ triggers { id } }"))["data"]["triggers"] == []
    log = (await api.gql("{ webhookDeliveries { status } }"))["data"]["webhookDeliveries"]
    assert log == [{"status": "CANCELLED"}]


async def test_another_workspaces_trigger_cannot_be_deleted(api: Api) -> None:
    created = (await api.gql(DEFINE, {"url": "https://hooks.example/a"}))["data"]["defineTrigger"]
    other = await api.key_in("other", "ADMIN")
    body = await api.gql(
        "mutation($id: ID!) { deleteTrigger(id: $id) }", {"id": created["trigger"]["id"]}, key=other
    )
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert len((await api.gql("{ triggers { id } }"))["data"]["triggers"]) == 1
