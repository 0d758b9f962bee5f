"""Next-best-action webhooks: rules evaluated in the background, each journey fired once, deliveries
signed and retried with back-off, every attempt logged."""

import asyncio
import json
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from pymongo.errors import PyMongoError

from privacy.consent import is_granted
from privacy.purposes import Purpose
from server.domain.access import Principal
from server.domain.errors import InvalidInput
from server.domain.paging import page_size
from server.domain.taxonomy import Phase
from server.domain.triggers import MAX_ATTEMPTS, Trigger, backoff, due, signature
from server.storage.client import Document
from server.storage.triggers import Triggers
from server.storage.workspaces import Workspaces

logger = logging.getLogger("granular.triggers")


class TriggerService:
    def __init__(
        self,
        triggers: Triggers,
        workspaces: Workspaces,
        clock: Callable[[], datetime],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._triggers = triggers
        self._workspaces = workspaces
        self._clock = clock
        self._transport = transport

    async def define(
        self, principal: Principal, *, name: str, action: str, reached: Phase, within_minutes: int, url: str
    ) -> tuple[Trigger, str]:
        """A new rule and its signing secret (shown once)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput("`url` must be an http(s) URL.", field="url", code="INVALID_URL")
        if reached is Phase.ACTION:
            raise InvalidInput(
                "A trigger waits for a phase before ACTION.", field="reachedPhase", code="INVALID_PHASE"
            )
        if not 1 <= within_minutes <= 7 * 24 * 60:
            raise InvalidInput(
                "`withinMinutes` must be 1 to 10080.", field="withinMinutes", code="OUT_OF_RANGE"
            )
        secret = "whsec_" + secrets.token_urlsafe(24)
        rule = Trigger("", name[:100], action[:100], reached, timedelta(minutes=within_minutes), url)
        return await self._triggers.insert(principal.workspace_id, rule, secret, self._clock()), secret

    async def rules(self, principal: Principal) -> list[Trigger]:
        return await self._triggers.of_workspace(principal.workspace_id)

    async def deliveries(self, principal: Principal, trigger_id: str | None, first: int) -> list[Document]:
        return await self._triggers.deliveries(principal.workspace_id, trigger_id, page_size(first))

    async def run_once(self) -> None:
        """Owe a webhook for every due journey, then attempt every delivery that is due."""
        now = self._clock()
        for workspace_id, trigger in await self._triggers.everywhere():
            workspace = await self._workspaces.get(workspace_id)
            for profile in await self._triggers.candidates(workspace_id, trigger, now):
                journey = due(trigger, profile.scores, now)
                # Next-best-action is personalization: only for customers who allowed it.
                if journey is None or not is_granted(
                    profile.consent, Purpose.PERSONALIZATION, workspace.consent_mode
                ):
                    continue
                body = {
                    "trigger": trigger.id,
                    "action": trigger.action,
                    "profileId": profile.id,
                    "phase": profile.scores.journey_phase.name if profile.scores.journey_phase else None,
                    "journeyStartedAt": journey,
                    "firedAt": now.isoformat(),
                }
                await self._triggers.owe(workspace_id, trigger, profile.id, journey, body, now)
        async with httpx.AsyncClient(timeout=5.0, transport=self._transport) as client:
            for delivery in await self._triggers.due_deliveries(now):
                await self._deliver(client, delivery, now)

    async def _deliver(self, client: httpx.AsyncClient, delivery: dict[str, Any], now: datetime) -> None:
        secret = await self._triggers.secret(delivery["workspace_id"], delivery["trigger_id"])
        rules = {t.id: t for t in await self._triggers.of_workspace(delivery["workspace_id"])}
        rule = rules.get(delivery["trigger_id"])
        if secret is None or rule is None:
            await self._triggers.attempted(
                delivery["_id"], {"status": "FAILED", "last_status": "trigger deleted"}
            )
            return
        body = json.dumps(delivery["body"], sort_keys=True).encode()
        timestamp = str(int(now.timestamp()))
        headers = {
            "Content-Type": "application/json",
            "X-Granular-Timestamp": timestamp,
            "X-Granular-Signature": "sha256=" + signature(secret, timestamp, body),
            "X-Granular-Delivery": delivery["_id"],
        }
        try:
            response = await client.post(rule.url, content=body, headers=headers)
            outcome = str(response.status_code)
            delivered = response.is_success
        except httpx.HTTPError as error:
            outcome, delivered = type(error).__name__, False
        attempts = delivery["attempts"] + 1
        status = "DELIVERED" if delivered else ("FAILED" if attempts >= MAX_ATTEMPTS else "PENDING")
        await self._triggers.attempted(
            delivery["_id"],
            {
                "status": status,
                "last_status": outcome,
                "last_attempt_at": now,
                "next_attempt_at": now + backoff(attempts),
            },
        )

    async def run_forever(self, interval: float) -> None:
        """The background evaluator of the server process; a failed pass is logged and retried."""
        while True:
            try:
                await self.run_once()
            except (PyMongoError, httpx.HTTPError) as error:
                logger.warning("trigger pass failed: %s", type(error).__name__)
            await asyncio.sleep(interval)
