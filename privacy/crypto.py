"""The only user of `cryptography`: envelope encryption of personal data, and keyed hashes.

A workspace key-encryption key (KEK) wraps one random data key per profile; each personal field is
AES-256-GCM encrypted under that data key with associated data naming workspace, profile and field,
so a ciphertext copied to another slot fails to decrypt. Deleting a data key shreds the profile.
"""

import base64
import binascii
import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_KEY_BYTES = 32
_NONCE_BYTES = 12


class KeyringError(ValueError):
    """The key file is missing a key or holds one of the wrong size."""


class DecryptionError(ValueError):
    """A ciphertext does not decrypt under this key in this slot."""


@dataclass(frozen=True)
class Keyring:
    current_kek_id: str
    keks: Mapping[str, bytes]
    index_key: bytes
    suppression_key: bytes
    api_key_pepper: bytes = field(repr=False, default=b"")

    def __repr__(self) -> str:
        return f"Keyring(current_kek_id={self.current_kek_id!r}, keks={sorted(self.keks)})"


@dataclass(frozen=True)
class WrappedKey:
    kek_id: str
    blob: bytes


def new_keyring() -> Keyring:
    """Fresh random keys: one KEK (k1), and the HMAC keys for indexes, suppressions and API keys."""
    return Keyring(
        current_kek_id="k1",
        keks={"k1": AESGCM.generate_key(bit_length=256)},
        index_key=os.urandom(_KEY_BYTES),
        suppression_key=os.urandom(_KEY_BYTES),
        api_key_pepper=os.urandom(_KEY_BYTES),
    )


def rotate(keyring: Keyring) -> Keyring:
    """A new current KEK; old ones stay so existing data keys can be unwrapped and re-wrapped."""
    number = 1 + max(int(k[1:]) for k in keyring.keks if k[1:].isdigit())
    new_id = f"k{number}"
    return Keyring(
        current_kek_id=new_id,
        keks={**keyring.keks, new_id: AESGCM.generate_key(bit_length=256)},
        index_key=keyring.index_key,
        suppression_key=keyring.suppression_key,
        api_key_pepper=keyring.api_key_pepper,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def keyring_to_json(keyring: Keyring) -> str:
    return json.dumps(
        {
            "current_kek_id": keyring.current_kek_id,
            "keks": {k: _b64(v) for k, v in keyring.keks.items()},
            "index_key": _b64(keyring.index_key),
            "suppression_key": _b64(keyring.suppression_key),
            "api_key_pepper": _b64(keyring.api_key_pepper),
        },
        indent=2,
    )


def keyring_from_json(text: str) -> Keyring:
    """Parse and check a key file; every key must be 32 bytes."""
    try:
        doc = json.loads(text)

        def key(value: str, name: str) -> bytes:
            raw = base64.b64decode(value, validate=True)
            if len(raw) != _KEY_BYTES:
                raise KeyringError(f"the key file's {name} is not {_KEY_BYTES} bytes")
            return raw

        keks = {kek_id: key(value, f"KEK {kek_id}") for kek_id, value in doc["keks"].items()}
        keyring = Keyring(
            current_kek_id=doc["current_kek_id"],
            keks=keks,
            index_key=key(doc["index_key"], "index_key"),
            suppression_key=key(doc["suppression_key"], "suppression_key"),
            api_key_pepper=key(doc["api_key_pepper"], "api_key_pepper"),
        )
    except (KeyError, TypeError, ValueError, binascii.Error) as error:
        if isinstance(error, KeyringError):
            raise
        raise KeyringError(f"the key file is malformed ({type(error).__name__})") from None
    if keyring.current_kek_id not in keyring.keks:
        raise KeyringError("the key file's current KEK is missing")
    return keyring


def _associated(*parts: str) -> bytes:
    # Length-prefixed, so ("ab", "c") and ("a", "bc") never share associated data.
    return b"".join(len(p.encode()).to_bytes(4, "big") + p.encode() for p in parts)


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def wrap_data_key(keyring: Keyring, data_key: bytes, *, workspace_id: str, profile_id: str) -> WrappedKey:
    """The data key encrypted under the current KEK, bound to its workspace and profile."""
    nonce = os.urandom(_NONCE_BYTES)
    kek = AESGCM(keyring.keks[keyring.current_kek_id])
    blob = nonce + kek.encrypt(nonce, data_key, _associated("data-key", workspace_id, profile_id))
    return WrappedKey(kek_id=keyring.current_kek_id, blob=blob)


def unwrap_data_key(keyring: Keyring, wrapped: WrappedKey, *, workspace_id: str, profile_id: str) -> bytes:
    kek = keyring.keks.get(wrapped.kek_id)
    if kek is None:
        raise DecryptionError("the data key was wrapped by a KEK this keyring does not hold")
    try:
        return AESGCM(kek).decrypt(
            wrapped.blob[:_NONCE_BYTES],
            wrapped.blob[_NONCE_BYTES:],
            _associated("data-key", workspace_id, profile_id),
        )
    except InvalidTag:
        raise DecryptionError("the data key does not unwrap in this slot") from None


def rewrap(keyring: Keyring, wrapped: WrappedKey, *, workspace_id: str, profile_id: str) -> WrappedKey:
    """The same data key under the current KEK (rotation touches keys, never data)."""
    key = unwrap_data_key(keyring, wrapped, workspace_id=workspace_id, profile_id=profile_id)
    return wrap_data_key(keyring, key, workspace_id=workspace_id, profile_id=profile_id)


def encrypt_field(
    data_key: bytes, plaintext: str, *, workspace_id: str, profile_id: str, field: str
) -> bytes:
    """nonce ‖ AES-256-GCM(plaintext), with associated data naming the slot."""
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + AESGCM(data_key).encrypt(
        nonce, plaintext.encode(), _associated(workspace_id, profile_id, field)
    )


def decrypt_field(data_key: bytes, blob: bytes, *, workspace_id: str, profile_id: str, field: str) -> str:
    try:
        plaintext = AESGCM(data_key).decrypt(
            blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], _associated(workspace_id, profile_id, field)
        )
    except InvalidTag:
        raise DecryptionError("the field does not decrypt in this slot") from None
    return plaintext.decode()


def keyed_hash(key: bytes, *parts: str) -> str:
    """HMAC-SHA256 (hex) over an unambiguous encoding of the parts."""
    return hmac.new(key, _associated(*parts), hashlib.sha256).hexdigest()


def blind_index(keyring: Keyring, *, workspace_id: str, kind: str, normalized: str) -> str:
    return keyed_hash(keyring.index_key, "index", workspace_id, kind, normalized)


def suppression_hash(keyring: Keyring, *, workspace_id: str, kind: str, normalized: str) -> str:
    return keyed_hash(keyring.suppression_key, "suppression", workspace_id, kind, normalized)


def api_key_digest(keyring: Keyring, secret: str) -> str:
    return keyed_hash(keyring.api_key_pepper, "api-key", secret)
