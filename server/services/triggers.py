"""Next-best-action webhooks: rules evaluated in the background, each journey fired once, deliveries
signed and retried with back-off, every attempt logged."""

import asyncio
import json
import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import httpx

from privacy.consent import is_granted
from privacy.purposes import Purpose
from server.domain.access import Principal
from server.domain.errors import InvalidInput, NotFound
from server.domain.paging import page_size
from server.domain.taxonomy import Phase
from server.domain.triggers import MAX_ATTEMPTS, Delivery, Trigger, backoff, due, signature
from server.services.background import gave_up
from server.storage.triggers import Triggers
from server.storage.workspaces import Workspaces

MAX_URL_LENGTH = 2048
MAX_WITHIN_MINUTES = 7 * 24 * 60


def webhook_url(url: str) -> str:
    """The URL as the sender will use it: parsed by httpx itself (the parser that sends), http(s)
    with a host, no control characters, NULs or spaces anywhere; INVALID_URL otherwise."""
    refused = InvalidInput(
        f"`url` must be an http(s) URL of at most {MAX_URL_LENGTH} characters, without control "
        "characters or spaces.",
        field="url",
        code="INVALID_URL",
    )
    if len(url) > MAX_URL_LENGTH or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise refused
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        raise refused from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise refused
    return url


def _checked(trigger: Trigger) -> Trigger:
    """The rule's own checks, the same for a new rule and a changed one."""
    webhook_url(trigger.url)
    if trigger.reached is Phase.ACTION:
        raise InvalidInput(
            "A trigger waits for a phase before ACTION.", field="reachedPhase", code="INVALID_PHASE"
        )
    if not timedelta(minutes=1) <= trigger.within <= timedelta(minutes=MAX_WITHIN_MINUTES):
        raise InvalidInput(
            f"`withinMinutes` must be 1 to {MAX_WITHIN_MINUTES}.", field="withinMinutes", code="OUT_OF_RANGE"
        )
    return replace(trigger, name=trigger.name[:100], action=trigger.action[:100])


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
        self,
        principal: Principal,
        *,
        name: str,
        action: str,
        reached: Phase,
        within_minutes: int,
        url: str,
        since: datetime | None = None,
    ) -> tuple[Trigger, str]:
        """A new rule and its signing secret (shown once). It considers journeys active from `since`
        on (default: now), so it never fires for journeys that went quiet before it existed."""
        now = self._clock()
        rule = _checked(
            Trigger("", name, action, reached, timedelta(minutes=within_minutes), url, since or now)
        )
        secret = "whsec_" + secrets.token_urlsafe(24)
        return await self._triggers.insert(principal.workspace_id, rule, secret, now), secret

    async def update(
        self,
        principal: Principal,
        trigger_id: str,
        *,
        name: str | None = None,
        action: str | None = None,
        reached: Phase | None = None,
        within_minutes: int | None = None,
        url: str | None = None,
        since: datetime | None = None,
    ) -> Trigger:
        """Change the given fields of a rule (its id and signing secret stay); NOT_FOUND if the
        workspace has no such rule. Journeys already fired for stay fired."""
        current = await self._triggers.get(principal.workspace_id, trigger_id)
        if current is None:
            raise NotFound("No such trigger.", field="id")
        changed = _checked(
            replace(
                current,
                name=current.name if name is None else name,
                action=current.action if action is None else action,
                reached=current.reached if reached is None else reached,
                within=current.within if within_minutes is None else timedelta(minutes=within_minutes),
                url=current.url if url is None else url,
                since=current.since if since is None else since,
            )
        )
        if not await self._triggers.replace(principal.workspace_id, changed):
            raise NotFound("No such trigger.", field="id")
        return changed

    async def delete(self, principal: Principal, trigger_id: str) -> None:
        """Remove a rule; the webhooks it still owed are cancelled. NOT_FOUND if there is none."""
        if not await self._triggers.delete(principal.workspace_id, trigger_id, self._clock()):
            raise NotFound("No such trigger.", field="id")

    async def rules(self, principal: Principal) -> list[Trigger]:
        return await self._triggers.of_workspace(principal.workspace_id)

    async def deliveries(self, principal: Principal, trigger_id: str | None, first: int) -> list[Delivery]:
        return await self._triggers.deliveries(principal.workspace_id, trigger_id, page_size(first))

    async def run_once(self) -> None:
        """Owe a webhook for every due journey, then attempt every delivery that is due. One rule or
        delivery that fails (whatever the error) is logged by class and counted; the others go on."""
        now = self._clock()
        for workspace_id, trigger in await self._triggers.everywhere():
            try:
                await self._owe_for(workspace_id, trigger, now)
            except Exception as error:  # one bad rule must not stop the others
                gave_up("triggers", error)
        async with httpx.AsyncClient(timeout=5.0, transport=self._transport) as client:
            for delivery in await self._triggers.due_deliveries(now):
                try:
                    await self._deliver(client, delivery, now)
                except Exception as error:  # nor one bad delivery
                    gave_up("triggers", error)
                    await self._attempted(delivery, now, delivered=False, outcome=type(error).__name__)

    async def _owe_for(self, workspace_id: str, trigger: Trigger, now: datetime) -> None:
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

    async def _deliver(self, client: httpx.AsyncClient, delivery: Delivery, now: datetime) -> None:
        endpoint = await self._triggers.endpoint(delivery.workspace_id, delivery.trigger_id)
        if endpoint is None:
            await self._triggers.attempted(delivery.id, status="FAILED", last_status="trigger deleted")
            return
        url, secret = endpoint
        body = json.dumps(delivery.body, sort_keys=True).encode()
        timestamp = str(int(now.timestamp()))
        headers = {
            "Content-Type": "application/json",
            "X-Granular-Timestamp": timestamp,
            "X-Granular-Signature": "sha256=" + signature(secret, timestamp, body),
            "X-Granular-Delivery": delivery.id,
        }
        try:
            response = await client.post(url, content=body, headers=headers)
            outcome = str(response.status_code)
            delivered = response.is_success
        except httpx.HTTPError as error:
            outcome, delivered = type(error).__name__, False
        await self._attempted(delivery, now, delivered=delivered, outcome=outcome)

    async def _attempted(self, delivery: Delivery, now: datetime, *, delivered: bool, outcome: str) -> None:
        attempts = delivery.attempts + 1
        status = "DELIVERED" if delivered else ("FAILED" if attempts >= MAX_ATTEMPTS else "PENDING")
        await self._triggers.attempted(
            delivery.id, status=status, last_status=outcome, at=now, next_attempt_at=now + backoff(attempts)
        )

    async def run_forever(self, interval: float) -> None:
        """The background evaluator of the server process; a failed pass is logged, counted and
        retried (the supervisor restarts this loop should it end anyway)."""
        while True:
            try:
                await self.run_once()
            except Exception as error:  # the next pass may well succeed
                gave_up("triggers", error)
            await asyncio.sleep(interval)
