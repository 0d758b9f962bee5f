"""Custom channels: which channel name a batch's events are stored under, and the workspace's count
of them (the rule is server/domain/channel.py; this keeps the per-workspace set)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pymongo.asynchronous.client_session import AsyncClientSession

from server.domain.access import Principal
from server.domain.channel import FALLBACK_CHANNEL, MAX_CUSTOM_CHANNELS, admit_channels, is_custom
from server.storage.custom_channels import CustomChannels


@dataclass(frozen=True)
class CustomChannelReport:
    names: tuple[str, ...]
    cap: int
    fallback: str
    fallback_events: int


class ChannelService:
    def __init__(self, store: CustomChannels, cap: int = MAX_CUSTOM_CHANNELS) -> None:
        self._store = store
        self._cap = cap

    async def admit(
        self, workspace_id: str, channels: Sequence[str], *, session: AsyncClientSession | None = None
    ) -> Mapping[str, str]:
        """Each channel of a batch's events (one entry per event) → the name to store the event under.
        New custom channels join the workspace's set while it is under the cap, and events sent to the
        fallback are counted. Pass the batch's transaction, so that an aborted batch records nothing.
        A batch with built-in channels only costs no database call."""
        if not any(is_custom(channel) or channel == FALLBACK_CHANNEL for channel in channels):
            return {channel: channel for channel in channels}
        known = (await self._store.get(workspace_id, session=session)).names
        wanted = admit_channels(channels, known, self._cap).added
        if wanted:
            # Concurrent batches may have taken the last places: the set as stored decides.
            await self._store.add(workspace_id, wanted, cap=self._cap, session=session)
            known = (await self._store.get(workspace_id, session=session)).names
        settled = admit_channels(channels, known, cap=0)  # what the set lacks now goes to the fallback
        if settled.fallback_events:
            await self._store.count_fallback(workspace_id, settled.fallback_events, session=session)
        return settled.names

    async def report(self, principal: Principal) -> CustomChannelReport:
        """The workspace's custom channels, the cap, and how many events went to the fallback."""
        current = await self._store.get(principal.workspace_id)
        return CustomChannelReport(
            names=tuple(sorted(current.names)),
            cap=self._cap,
            fallback=FALLBACK_CHANNEL,
            fallback_events=current.fallback_events,
        )
