"""Rotating the key-encryption key: every data key is re-wrapped; no personal data is touched."""

from privacy.crypto import Keyring, rewrap
from server.storage.data_keys import DataKeys


async def rewrap_all(data_keys: DataKeys, keyring: Keyring) -> int:
    """Re-wrap every data key under the keyring's current KEK; returns how many moved."""
    moved = 0
    for workspace_id, profile_id, wrapped in await data_keys.all_wrapped():
        if wrapped.kek_id == keyring.current_kek_id:
            continue
        await data_keys.put(
            workspace_id,
            profile_id,
            rewrap(keyring, wrapped, workspace_id=workspace_id, profile_id=profile_id),
        )
        moved += 1
    return moved
