"""Personal data at rest: per-profile data keys, encrypted traits, blind indexes, suppression hashes.

Every decision and primitive comes from `privacy/`; this module only fetches and stores keys.
"""

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from privacy.classification import normalize_email, normalize_phone
from privacy.crypto import (
    Keyring,
    blind_index,
    decrypt_field,
    encrypt_field,
    keyed_hash,
    new_data_key,
    suppression_hash,
    unwrap_data_key,
    wrap_data_key,
)
from server.domain.profile import Profile
from server.storage.data_keys import DataKeys

_NORMALIZERS = {"email": normalize_email, "phone": normalize_phone}


class Vault:
    def __init__(self, data_keys: DataKeys, keyring: Keyring) -> None:
        self._data_keys = data_keys
        self._keyring = keyring

    async def _data_key(
        self,
        workspace_id: str,
        profile_id: str,
        *,
        create: bool,
        session: AsyncClientSession | None,
    ) -> bytes | None:
        wrapped = await self._data_keys.get(workspace_id, profile_id, session=session)
        if wrapped is not None:
            return unwrap_data_key(self._keyring, wrapped, workspace_id=workspace_id, profile_id=profile_id)
        if not create:
            return None
        key = new_data_key()
        await self._data_keys.put(
            workspace_id,
            profile_id,
            wrap_data_key(self._keyring, key, workspace_id=workspace_id, profile_id=profile_id),
            session=session,
        )
        return key

    def blind(self, workspace_id: str, kind: str, value: object) -> str | None:
        """The blind index of an e-mail or phone, or None when it does not normalize."""
        if not isinstance(value, str):
            return None
        normalized = _NORMALIZERS[kind](value)
        if normalized is None:
            return None
        return blind_index(self._keyring, workspace_id=workspace_id, kind=kind, normalized=normalized)

    def suppression_hashes_of(self, workspace_id: str, pairs: list[tuple[str, str]]) -> list[str]:
        """Keyed hashes of (kind, normalized value) pairs: what the suppression list stores."""
        return [
            suppression_hash(self._keyring, workspace_id=workspace_id, kind=kind, normalized=value)
            for kind, value in pairs
        ]

    def token_digest(self, token: str) -> str:
        """How a one-time link's token is stored: a keyed hash, so a database copy cannot use it."""
        return keyed_hash(self._keyring.api_key_pepper, "link", token)

    def suppression_hashes(
        self,
        workspace_id: str,
        *,
        user_id: str | None,
        anonymous_id: str | None,
        email: object = None,
    ) -> list[str]:
        hashes = []
        for kind, value in (("user_id", user_id), ("anonymous_id", anonymous_id)):
            if value:
                hashes.append(
                    suppression_hash(self._keyring, workspace_id=workspace_id, kind=kind, normalized=value)
                )
        if isinstance(email, str) and (normalized := normalize_email(email)) is not None:
            hashes.append(
                suppression_hash(
                    self._keyring, workspace_id=workspace_id, kind="email", normalized=normalized
                )
            )
        return hashes

    async def seal(
        self,
        workspace_id: str,
        profile: Profile,
        pii: Mapping[str, Any],
        at: datetime,
        *,
        session: AsyncClientSession | None = None,
    ) -> Profile:
        """The profile with these PII traits encrypted under its data key (newest value wins)."""
        fresh = {
            name: value
            for name, value in pii.items()
            if name not in profile.pii or profile.pii[name][1] <= at
        }
        if not fresh:
            return profile
        key = await self._data_key(workspace_id, profile.id, create=True, session=session)
        assert key is not None
        sealed = dict(profile.pii)
        for name, value in fresh.items():
            plaintext = json.dumps(value, default=str)
            sealed[name] = (
                encrypt_field(key, plaintext, workspace_id=workspace_id, profile_id=profile.id, field=name),
                at,
            )
        indexes = set(profile.blind_indexes)
        for kind in ("email", "phone"):
            if kind in fresh and (index := self.blind(workspace_id, kind, fresh[kind])) is not None:
                indexes.add(index)
        return replace(profile, pii=sealed, blind_indexes=tuple(sorted(indexes)))

    async def open(
        self, workspace_id: str, profile: Profile, *, session: AsyncClientSession | None = None
    ) -> dict[str, Any]:
        """The profile's PII in plaintext (callers audit the read); empty once the key is shredded."""
        if not profile.pii:
            return {}
        key = await self._data_key(workspace_id, profile.id, create=False, session=session)
        if key is None:
            return {}
        return {
            name: json.loads(
                decrypt_field(key, ciphertext, workspace_id=workspace_id, profile_id=profile.id, field=name)
            )
            for name, (ciphertext, _) in profile.pii.items()
        }

    async def absorb(
        self,
        workspace_id: str,
        winner: Profile,
        loser: Profile,
        *,
        session: AsyncClientSession | None = None,
    ) -> Profile:
        """The winner holding the loser's PII too, re-encrypted under the winner's key."""
        plaintext = await self.open(workspace_id, loser, session=session)
        result = winner
        for name, value in plaintext.items():
            result = await self.seal(workspace_id, result, {name: value}, loser.pii[name][1], session=session)
        return replace(result, blind_indexes=tuple(sorted({*result.blind_indexes, *loser.blind_indexes})))
