from datetime import UTC, datetime

import httpx

from server.domain.access import Principal, Role
from server.domain.taxonomy import Phase
from server.domain.triggers import Delivery
from server.services.triggers import TriggerService
from server.storage.triggers import Triggers
from server.storage.workspaces import Workspaces
from tests.factories import ago, track
from tests.services.conftest import Stack

ANALYST = Principal(workspace_id="w1", role=Role.ANALYST, key_id="k-analyst")


def _failing(request: httpx.Request) -> httpx.Response:
    return httpx.Response(500)


async def test_a_failed_webhook_is_listed_as_a_typed_delivery_with_its_attempt(stack: Stack) -> None:
    now = datetime.now(UTC)
    triggers = TriggerService(
        Triggers(stack.db), Workspaces(stack.db), clock=lambda: now, transport=httpx.MockTransport(_failing)
    )
    trigger, _ = await triggers.define(
        stack.admin,
        name="abandoned checkout",
        action="abandoned-checkout",
        reached=Phase.INTENT,
        within_minutes=60,
        url="https://hooks.example/checkout",
        since=ago(days=1),
    )
    await stack.services.ingest.ingest(
        stack.admin, [track("checkout_started", user_id="u1", anonymous_id=None, at=ago(minutes=90))]
    )

    await triggers.run_once()
    deliveries = await triggers.deliveries(ANALYST, trigger.id, 10)

    assert len(deliveries) == 1
    delivery = deliveries[0]
    assert isinstance(delivery, Delivery)
    assert (delivery.trigger_id, delivery.status, delivery.attempts, delivery.last_status) == (
        trigger.id,
        "PENDING",
        1,
        "500",
    )
    assert delivery.body["action"] == "abandoned-checkout"
    assert delivery.next_attempt_at is not None
    assert delivery.next_attempt_at > now
