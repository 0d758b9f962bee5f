"""The only user of `cryptography`: envelope encryption of personal data, and keyed hashes.

A workspace key-encryption key (KEK) wraps one random data key per profile; each personal field is
AES-256-GCM encrypted under that data key with associated data naming workspace, profile and field,
so a ciphertext copied to another slot fails to decrypt. Deleting a data key shreds the profile.

Errors: KeyringError (a key file or keyring that cannot be used) and DecryptionError (a ciphertext
that does not open in this slot under this key); neither message carries key material or plaintext.
"""

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
_TAG_BYTES = 16
_KEK_ID = re.compile(r"k([0-9]+)")


class KeyringError(ValueError):
    """A keyring or key file that is missing a key, or holds one of the wrong size."""


class DecryptionError(ValueError):
    """A ciphertext that does not decrypt under this key in this slot."""


@dataclass(frozen=True, repr=False)
class Keyring:
    current_kek_id: str
    keks: Mapping[str, bytes]
    index_key: bytes
    suppression_key: bytes
    api_key_pepper: bytes

    def __post_init__(self) -> None:
        # A read-only copy: the caller's dict can neither change nor be changed through the keyring.
        object.__setattr__(self, "keks", MappingProxyType(dict(self.keks)))
        if self.current_kek_id not in self.keks:
            raise KeyringError(f"current_kek_id {self.current_kek_id!r} names none of the KEKs")
        named = [(f"KEK {kek_id!r}", key) for kek_id, key in self.keks.items()]
        named += [
            ("index_key", self.index_key),
            ("suppression_key", self.suppression_key),
            ("api_key_pepper", self.api_key_pepper),
        ]
        for name, key in named:
            if not isinstance(key, bytes) or len(key) != KEY_BYTES:
                raise KeyringError(f"{name} is not {KEY_BYTES} bytes")

    def __repr__(self) -> str:
        return f"Keyring(current_kek_id={self.current_kek_id!r}, keks={sorted(self.keks)})"


@dataclass(frozen=True)
class WrappedKey:
    kek_id: str
    blob: bytes


def new_keyring() -> Keyring:
    """Fresh random 32-byte keys: one KEK named k1, and the HMAC keys for indexes, suppressions, API keys."""
    return Keyring(
        current_kek_id="k1",
        keks={"k1": secrets.token_bytes(KEY_BYTES)},
        index_key=secrets.token_bytes(KEY_BYTES),
        suppression_key=secrets.token_bytes(KEY_BYTES),
        api_key_pepper=secrets.token_bytes(KEY_BYTES),
    )


def rotate(keyring: Keyring) -> Keyring:
    """A new current KEK k<n+1>; the old KEKs stay, so existing data keys can still be unwrapped."""
    numbers = [int(m.group(1)) for kek_id in keyring.keks if (m := _KEK_ID.fullmatch(kek_id))]
    number = max(numbers, default=0) + 1
    while f"k{number}" in keyring.keks:
        number += 1
    new_id = f"k{number}"
    return Keyring(
        current_kek_id=new_id,
        keks={**keyring.keks, new_id: secrets.token_bytes(KEY_BYTES)},
        index_key=keyring.index_key,
        suppression_key=keyring.suppression_key,
        api_key_pepper=keyring.api_key_pepper,
    )


def keyring_to_json(keyring: Keyring) -> str:
    """The key file: every key base64-encoded in one JSON object."""
    return json.dumps(
        {
            "current_kek_id": keyring.current_kek_id,
            "keks": {kek_id: _b64(key) for kek_id, key in keyring.keks.items()},
            "index_key": _b64(keyring.index_key),
            "suppression_key": _b64(keyring.suppression_key),
            "api_key_pepper": _b64(keyring.api_key_pepper),
        },
        indent=2,
    )


def keyring_from_json(text: str) -> Keyring:
    """The keyring a key file holds; KeyringError names what is missing or malformed."""
    try:
        doc = json.loads(text)
    except ValueError:
        raise KeyringError("the key file is not JSON") from None
    if not isinstance(doc, dict):
        raise KeyringError("the key file is not a JSON object")
    for name in ("current_kek_id", "keks", "index_key", "suppression_key", "api_key_pepper"):
        if name not in doc:
            raise KeyringError(f"the key file has no {name}")
    keks = doc["keks"]
    if not isinstance(keks, dict) or not keks:
        raise KeyringError("the key file's keks is not a non-empty object")
    if not isinstance(doc["current_kek_id"], str):
        raise KeyringError("the key file's current_kek_id is not a string")
    try:
        return Keyring(
            current_kek_id=doc["current_kek_id"],
            keks={kek_id: _unb64(value, f"KEK {kek_id!r}") for kek_id, value in keks.items()},
            index_key=_unb64(doc["index_key"], "index_key"),
            suppression_key=_unb64(doc["suppression_key"], "suppression_key"),
            api_key_pepper=_unb64(doc["api_key_pepper"], "api_key_pepper"),
        )
    except KeyringError as error:
        raise KeyringError(f"the key file's {error}") from None


def new_data_key() -> bytes:
    """A fresh random 32-byte AES-256 data key."""
    return AESGCM.generate_key(bit_length=256)


def wrap_data_key(keyring: Keyring, data_key: bytes, *, workspace_id: str, profile_id: str) -> WrappedKey:
    """The data key AES-256-GCM encrypted under the current KEK, bound to its workspace and profile."""
    _check_key(data_key)
    kek_id = keyring.current_kek_id
    blob = _seal(keyring.keks[kek_id], data_key, _encode("data-key", workspace_id, profile_id))
    return WrappedKey(kek_id=kek_id, blob=blob)


def unwrap_data_key(keyring: Keyring, wrapped: WrappedKey, *, workspace_id: str, profile_id: str) -> bytes:
    """The data key, only under the KEK that wrapped it and only for its own workspace and profile."""
    kek = keyring.keks.get(wrapped.kek_id)
    if kek is None:
        raise DecryptionError("the data key was wrapped by a KEK this keyring does not hold")
    data_key = _open(kek, wrapped.blob, _encode("data-key", workspace_id, profile_id))
    if len(data_key) != KEY_BYTES:
        raise DecryptionError("the unwrapped data key is not 32 bytes")
    return data_key


def rewrap(keyring: Keyring, wrapped: WrappedKey, *, workspace_id: str, profile_id: str) -> WrappedKey:
    """The same data key re-wrapped under the current KEK: rotation touches keys, never data."""
    data_key = unwrap_data_key(keyring, wrapped, workspace_id=workspace_id, profile_id=profile_id)
    return wrap_data_key(keyring, data_key, workspace_id=workspace_id, profile_id=profile_id)


def encrypt_field(
    data_key: bytes, plaintext: str, *, workspace_id: str, profile_id: str, field: str
) -> bytes:
    """nonce ‖ AES-256-GCM(plaintext) with a fresh 12-byte nonce; associated data names the slot."""
    _check_key(data_key)
    return _seal(data_key, plaintext.encode(), _encode(workspace_id, profile_id, field))


def decrypt_field(data_key: bytes, blob: bytes, *, workspace_id: str, profile_id: str, field: str) -> str:
    """The plaintext, only with the right key in the slot it was encrypted for; else DecryptionError."""
    if len(data_key) != KEY_BYTES:
        raise DecryptionError("the data key is not 32 bytes")
    plaintext = _open(data_key, blob, _encode(workspace_id, profile_id, field))
    try:
        return plaintext.decode()
    except UnicodeDecodeError:
        raise DecryptionError("the field is not UTF-8 text") from None


def keyed_hash(key: bytes, *parts: str) -> str:
    """HMAC-SHA256 (hex) over the length-prefixed parts, so ("ab", "c") and ("a", "bc") differ."""
    if len(key) < KEY_BYTES:
        raise ValueError(f"a keyed hash needs a key of at least {KEY_BYTES} bytes")
    return hmac.new(key, _encode(*parts), hashlib.sha256).hexdigest()


def blind_index(keyring: Keyring, *, workspace_id: str, kind: str, normalized: str) -> str:
    """Keyed hash of a normalized identifier under the index key, separated by workspace and kind."""
    return keyed_hash(keyring.index_key, "index", workspace_id, kind, normalized)


def suppression_hash(keyring: Keyring, *, workspace_id: str, kind: str, normalized: str) -> str:
    """Keyed hash of an erased identifier under the suppression key (never equal to its blind index)."""
    return keyed_hash(keyring.suppression_key, "suppression", workspace_id, kind, normalized)


def api_key_digest(keyring: Keyring, secret: str) -> str:
    """How an API key is stored: a keyed hash under the pepper, useless without the key file."""
    return keyed_hash(keyring.api_key_pepper, "api-key", secret)


def customer_token_secret(keyring: Keyring, workspace_id: str, generation: int) -> bytes:
    """A workspace's HS256 key for customer tokens; rotating moves to the next generation."""
    return bytes.fromhex(keyed_hash(keyring.api_key_pepper, "customer-token", workspace_id, str(generation)))


def _encode(*parts: str) -> bytes:
    # Length-prefixed: no two different tuples of parts share an encoding.
    # Stored ciphertexts and hashes depend on these exact bytes.
    encoded = [part.encode() for part in parts]
    return b"".join(len(data).to_bytes(4, "big") + data for data in encoded)


def _seal(key: bytes, plaintext: bytes, associated: bytes) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, associated)


def _open(key: bytes, blob: bytes, associated: bytes) -> bytes:
    if len(blob) < NONCE_BYTES + _TAG_BYTES:
        raise DecryptionError("the ciphertext is too short")
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], associated)
    except InvalidTag:
        raise DecryptionError("the ciphertext does not decrypt in this slot under this key") from None


def _check_key(key: bytes) -> None:
    if len(key) != KEY_BYTES:
        raise ValueError(f"an AES-256 key is {KEY_BYTES} bytes")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(value: object, name: str) -> bytes:
    if not isinstance(value, str):
        raise KeyringError(f"{name} is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise KeyringError(f"{name} is not base64") from None
