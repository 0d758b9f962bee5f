"""Personal data at rest: per-profile data keys, encrypted traits, blind indexes, identity hashes.

Every decision and primitive comes from `privacy/`; this module only fetches and stores keys. Keys
are fetched for many profiles at once (one query) and handed to the pure sealing functions.
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from privacy.classification import IdentifierKind, contact_kind, contacts, normalize
from privacy.crypto import (
    Keyring,
    WrappedKey,
    blind_index,
    decrypt_field,
    encrypt_field,
    keyed_hash,
    new_data_key,
    suppression_hash,
    unwrap_data_key,
    wrap_data_key,
)
from server.domain.message import Identifiers
from server.domain.profile import Profile
from server.storage.data_keys import DataKeys


class Vault:
    def __init__(self, data_keys: DataKeys, keyring: Keyring) -> None:
        self._data_keys = data_keys
        self._keyring = keyring

    def identity_hash(self, workspace_id: str, kind: IdentifierKind, normalized: str) -> str:
        """The keyed hash that names an identifier in the identity map and the suppression list."""
        return suppression_hash(
            self._keyring, workspace_id=workspace_id, kind=kind.value, normalized=normalized
        )

    def hash_of(
        self, workspace_id: str, kind: IdentifierKind, value: object, *, region: str | None = None
    ) -> str | None:
        """The identity hash of a raw value, after the one normalization; None if it is not one."""
        normalized = normalize(kind, value, region=region)
        return None if normalized is None else self.identity_hash(workspace_id, kind, normalized)

    def identifiers(
        self,
        workspace_id: str,
        *,
        alias: bool,
        user_id: str | None,
        anonymous_id: str | None,
        previous_id: str | None,
        traits: Iterable[Mapping[str, object]],
        region: str | None,
    ) -> Identifiers:
        """The hashes of every identifier a message carries (an alias's previousId both ways)."""
        user, anon = IdentifierKind.USER_ID, IdentifierKind.ANONYMOUS_ID
        found = {
            (kind.value, self.identity_hash(workspace_id, kind, value))
            for each in traits
            for kind, value in contacts(each, region=region)
        }
        return Identifiers(
            user=self.hash_of(workspace_id, user, user_id),
            anonymous=None if alias else self.hash_of(workspace_id, anon, anonymous_id),
            previous_user=self.hash_of(workspace_id, user, previous_id) if alias else None,
            previous_anonymous=self.hash_of(workspace_id, anon, previous_id) if alias else None,
            contacts=tuple(sorted(found)),
        )

    def blind(self, workspace_id: str, kind: str, value: object, *, region: str | None = None) -> str | None:
        """The blind index of an e-mail or phone (look-ups by them), or None when it does not normalize."""
        normalized = normalize(IdentifierKind(kind), value, region=region)
        if normalized is None:
            return None
        return blind_index(self._keyring, workspace_id=workspace_id, kind=kind, normalized=normalized)

    def token_digest(self, token: str) -> str:
        """How a one-time link's token is stored: a keyed hash, so a database copy cannot use it."""
        return keyed_hash(self._keyring.api_key_pepper, "link", token)

    async def keys(
        self, workspace_id: str, profile_ids: Iterable[str], *, session: AsyncClientSession | None = None
    ) -> dict[str, bytes]:
        """The data keys these profiles have (unwrapped), in one query."""
        wrapped = await self._data_keys.of_profiles(workspace_id, sorted(set(profile_ids)), session=session)
        return {
            pid: unwrap_data_key(self._keyring, w, workspace_id=workspace_id, profile_id=pid)
            for pid, w in wrapped.items()
        }

    def new_key(self, workspace_id: str, profile_id: str) -> tuple[bytes, WrappedKey]:
        """A fresh data key for a profile, and how it is stored (wrapped under the current KEK)."""
        key = new_data_key()
        return key, wrap_data_key(self._keyring, key, workspace_id=workspace_id, profile_id=profile_id)

    def seal(
        self,
        workspace_id: str,
        profile: Profile,
        pii: Mapping[str, Any],
        at: datetime,
        key: bytes,
        *,
        region: str | None = None,
    ) -> Profile:
        """The profile with these PII traits encrypted under `key` (newest value wins), and a blind
        index for every e-mail and phone among them, whatever the trait is called."""
        fresh = {n: v for n, v in pii.items() if n not in profile.pii or profile.pii[n][1] <= at}
        if not fresh:
            return profile
        sealed = dict(profile.pii)
        for name, value in fresh.items():
            plaintext = json.dumps(value, default=str)
            sealed[name] = (
                encrypt_field(key, plaintext, workspace_id=workspace_id, profile_id=profile.id, field=name),
                at,
            )
        indexes = {*profile.blind_indexes, *self.contact_indexes(workspace_id, fresh, region=region)}
        return replace(profile, pii=sealed, blind_indexes=tuple(sorted(indexes)))

    def contact_indexes(
        self, workspace_id: str, traits: Mapping[str, Any], *, region: str | None = None
    ) -> set[str]:
        """The blind index of every e-mail and phone among these traits, whatever the trait is called."""
        return {
            index
            for name, value in traits.items()
            if (kind := contact_kind(name)) is not None
            and (index := self.blind(workspace_id, kind.value, value, region=region)) is not None
        }

    def open_with(self, workspace_id: str, profile: Profile, key: bytes | None) -> dict[str, Any]:
        """The profile's PII in plaintext under `key`; empty without a key (shredded)."""
        if key is None:
            return {}
        return {
            name: json.loads(
                decrypt_field(key, ciphertext, workspace_id=workspace_id, profile_id=profile.id, field=name)
            )
            for name, (ciphertext, _) in profile.pii.items()
        }

    async def open(
        self, workspace_id: str, profile: Profile, *, session: AsyncClientSession | None = None
    ) -> dict[str, Any]:
        """The profile's PII in plaintext (callers audit the read); empty once the key is shredded."""
        if not profile.pii:
            return {}
        keys = await self.keys(workspace_id, [profile.id], session=session)
        return self.open_with(workspace_id, profile, keys.get(profile.id))
