import json

import pytest

from privacy.crypto import (
    DecryptionError,
    KeyringError,
    api_key_digest,
    blind_index,
    decrypt_field,
    encrypt_field,
    keyring_from_json,
    keyring_to_json,
    new_data_key,
    new_keyring,
    rewrap,
    rotate,
    unwrap_data_key,
    wrap_data_key,
)

SLOT = {"workspace_id": "w1", "profile_id": "p1", "field": "email"}


def test_a_field_round_trips_in_its_slot() -> None:
    key = new_data_key()
    assert decrypt_field(key, encrypt_field(key, "ana@example.com", **SLOT), **SLOT) == "ana@example.com"


def test_two_encryptions_of_the_same_value_differ() -> None:
    key = new_data_key()
    assert encrypt_field(key, "x", **SLOT) != encrypt_field(key, "x", **SLOT)


@pytest.mark.parametrize("moved", [{"field": "phone"}, {"profile_id": "p2"}, {"workspace_id": "w2"}])
def test_a_ciphertext_moved_to_another_slot_fails(moved: dict[str, str]) -> None:
    key = new_data_key()
    blob = encrypt_field(key, "ana@example.com", **SLOT)
    with pytest.raises(DecryptionError):
        decrypt_field(key, blob, **{**SLOT, **moved})


def test_a_tampered_ciphertext_fails_without_echoing_data() -> None:
    key = new_data_key()
    blob = bytearray(encrypt_field(key, "ana@example.com", **SLOT))
    blob[-1] ^= 1
    with pytest.raises(DecryptionError) as raised:
        decrypt_field(key, bytes(blob), **SLOT)
    assert "ana" not in str(raised.value)


def test_the_nonce_is_12_random_bytes() -> None:
    key = new_data_key()
    blobs = {encrypt_field(key, "x", **SLOT)[:12] for _ in range(50)}
    assert len(blobs) == 50


def test_a_data_key_unwraps_only_for_its_profile() -> None:
    keyring, key = new_keyring(), new_data_key()
    wrapped = wrap_data_key(keyring, key, workspace_id="w1", profile_id="p1")
    assert unwrap_data_key(keyring, wrapped, workspace_id="w1", profile_id="p1") == key
    with pytest.raises(DecryptionError):
        unwrap_data_key(keyring, wrapped, workspace_id="w1", profile_id="p2")


def test_rotation_rewraps_keys_and_old_data_still_decrypts() -> None:
    keyring, key = new_keyring(), new_data_key()
    blob = encrypt_field(key, "ana@example.com", **SLOT)
    wrapped = wrap_data_key(keyring, key, workspace_id="w1", profile_id="p1")
    rotated = rotate(keyring)
    rewrapped = rewrap(rotated, wrapped, workspace_id="w1", profile_id="p1")
    assert (rewrapped.kek_id, rotated.current_kek_id) == ("k2", "k2")
    recovered = unwrap_data_key(rotated, rewrapped, workspace_id="w1", profile_id="p1")
    assert decrypt_field(recovered, blob, **SLOT) == "ana@example.com"


def test_the_keyring_round_trips_through_its_file_format() -> None:
    keyring = new_keyring()
    assert keyring_from_json(keyring_to_json(keyring)) == keyring


def test_a_short_key_in_the_key_file_is_refused_clearly() -> None:
    doc = json.loads(keyring_to_json(new_keyring()))
    doc["index_key"] = "AAAA"
    with pytest.raises(KeyringError, match="index_key is not 32 bytes"):
        keyring_from_json(json.dumps(doc))


def test_blind_indexes_are_deterministic_and_workspace_separated() -> None:
    keyring = new_keyring()
    one = blind_index(keyring, workspace_id="w1", kind="email", normalized="a@b.co")
    assert one == blind_index(keyring, workspace_id="w1", kind="email", normalized="a@b.co")
    assert one != blind_index(keyring, workspace_id="w2", kind="email", normalized="a@b.co")


def test_api_key_digests_depend_on_the_pepper() -> None:
    assert api_key_digest(new_keyring(), "gr_x") != api_key_digest(new_keyring(), "gr_x")


def test_the_keyring_repr_shows_no_key_material() -> None:
    keyring = new_keyring()
    assert keyring.index_key.hex() not in repr(keyring)
