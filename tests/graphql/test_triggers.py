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

from server.domain.triggers import signature
from server.services.triggers import TriggerService
from server.storage.embedded import free_port
from server.storage.triggers import Triggers
from server.storage.workspaces import Workspaces
from tests.conftest import Api
from tests.factories import ago, track
from tests.graphql.test_track_events import TRACK

DEFINE = """mutation($url: String!) { defineTrigger(input: {name: "abandoned checkout", action: "abandoned-checkout",
  reachedPhase: INTENT, withinMinutes: 60, url: $url}) { trigger { id } secret } }"""


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
    created = (await api.gql(DEFINE, {"url": receiver.url}))["data"]["defineTrigger"]
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
    await api.gql(DEFINE, {"url": receiver.url})
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
    await api.gql(DEFINE, {"url": receiver.url})
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
