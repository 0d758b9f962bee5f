import base64
import hashlib
import hmac
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privacy.crypto import (
    DecryptionError,
    Keyring,
    KeyringError,
    WrappedKey,
    api_key_digest,
    blind_index,
    decrypt_field,
    encrypt_field,
    keyed_hash,
    keyring_from_json,
    keyring_to_json,
    new_data_key,
    new_keyring,
    rewrap,
    rotate,
    suppression_hash,
    unwrap_data_key,
    wrap_data_key,
)

SLOT = {"workspace_id": "w1", "profile_id": "p1", "field": "email"}
OWNER = {"workspace_id": "w1", "profile_id": "p1"}
KEYRING = new_keyring()


def _key_file(**changes: object) -> str:
    doc = json.loads(keyring_to_json(KEYRING))
    doc.update(changes)
    return json.dumps(doc)


# Fields


def test_a_field_round_trips_in_its_slot() -> None:
    key = new_data_key()
    assert decrypt_field(key, encrypt_field(key, "ana@example.com", **SLOT), **SLOT) == "ana@example.com"


@settings(max_examples=50)
@given(plaintext=st.text())
def test_any_text_round_trips(plaintext: str) -> None:
    key = new_data_key()
    assert decrypt_field(key, encrypt_field(key, plaintext, **SLOT), **SLOT) == plaintext


def test_a_ciphertext_is_nonce_then_ciphertext_then_tag() -> None:
    assert len(encrypt_field(new_data_key(), "ana", **SLOT)) == 12 + 3 + 16


def test_two_encryptions_of_the_same_value_differ() -> None:
    key = new_data_key()
    assert encrypt_field(key, "x", **SLOT) != encrypt_field(key, "x", **SLOT)


def test_every_encryption_draws_a_fresh_nonce() -> None:
    key = new_data_key()
    assert len({encrypt_field(key, "x", **SLOT)[:12] for _ in range(100)}) == 100


@pytest.mark.parametrize(
    "moved",
    [{"field": "phone"}, {"profile_id": "p2"}, {"workspace_id": "w2"}],
    ids=["other field", "other profile", "other workspace"],
)
def test_a_ciphertext_moved_to_another_slot_fails(moved: dict[str, str]) -> None:
    key = new_data_key()
    blob = encrypt_field(key, "ana@example.com", **SLOT)
    with pytest.raises(DecryptionError):
        decrypt_field(key, blob, **{**SLOT, **moved})


def test_slot_names_cannot_be_shifted_between_parts() -> None:
    key = new_data_key()
    blob = encrypt_field(key, "x", workspace_id="w1", profile_id="p1", field="email")
    with pytest.raises(DecryptionError):
        decrypt_field(key, blob, workspace_id="w1p", profile_id="1", field="email")


def test_a_ciphertext_fails_under_another_data_key() -> None:
    blob = encrypt_field(new_data_key(), "ana@example.com", **SLOT)
    with pytest.raises(DecryptionError):
        decrypt_field(new_data_key(), blob, **SLOT)


@pytest.mark.parametrize(
    "position", [0, 11, 12, -17, -1], ids=["nonce", "nonce end", "body", "body end", "tag"]
)
def test_a_tampered_ciphertext_fails(position: int) -> None:
    key = new_data_key()
    blob = bytearray(encrypt_field(key, "ana@example.com", **SLOT))
    blob[position] ^= 1
    with pytest.raises(DecryptionError):
        decrypt_field(key, bytes(blob), **SLOT)


def test_a_truncated_ciphertext_fails() -> None:
    key = new_data_key()
    with pytest.raises(DecryptionError):
        decrypt_field(key, encrypt_field(key, "ana", **SLOT)[:20], **SLOT)


def test_a_decryption_error_shows_neither_plaintext_nor_key() -> None:
    key = new_data_key()
    blob = encrypt_field(key, "ana@example.com", **SLOT)
    with pytest.raises(DecryptionError) as raised:
        decrypt_field(key, blob, **{**SLOT, "field": "phone"})
    message = str(raised.value)
    assert "ana" not in message
    assert key.hex() not in message
    assert base64.b64encode(key).decode() not in message


def test_a_data_key_is_32_random_bytes() -> None:
    first, second = new_data_key(), new_data_key()
    assert (len(first), first != second) == (32, True)


def test_encrypting_with_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        encrypt_field(b"short", "x", **SLOT)


# Data keys


def test_a_data_key_unwraps_for_its_own_workspace_and_profile() -> None:
    key = new_data_key()
    wrapped = wrap_data_key(KEYRING, key, **OWNER)
    assert (wrapped.kek_id, unwrap_data_key(KEYRING, wrapped, **OWNER)) == ("k1", key)


@pytest.mark.parametrize(
    "other", [{"profile_id": "p2"}, {"workspace_id": "w2"}], ids=["profile", "workspace"]
)
def test_a_data_key_does_not_unwrap_for_another_owner(other: dict[str, str]) -> None:
    wrapped = wrap_data_key(KEYRING, new_data_key(), **OWNER)
    with pytest.raises(DecryptionError):
        unwrap_data_key(KEYRING, wrapped, **{**OWNER, **other})


def test_a_data_key_does_not_unwrap_under_another_keyring() -> None:
    wrapped = wrap_data_key(KEYRING, new_data_key(), **OWNER)
    with pytest.raises(DecryptionError):
        unwrap_data_key(new_keyring(), wrapped, **OWNER)


def test_a_data_key_wrapped_by_an_unknown_kek_is_refused() -> None:
    wrapped = wrap_data_key(KEYRING, new_data_key(), **OWNER)
    with pytest.raises(DecryptionError, match="KEK"):
        unwrap_data_key(KEYRING, WrappedKey("k9", wrapped.blob), **OWNER)


def test_a_wrapped_key_is_not_the_data_key() -> None:
    key = new_data_key()
    assert key not in wrap_data_key(KEYRING, key, **OWNER).blob


# Rotation


def test_rotation_adds_a_new_current_kek_and_keeps_the_old_ones() -> None:
    rotated = rotate(rotate(KEYRING))
    assert (rotated.current_kek_id, sorted(rotated.keks)) == ("k3", ["k1", "k2", "k3"])
    assert rotated.keks["k1"] == KEYRING.keks["k1"]


def test_rotation_keeps_the_hash_keys() -> None:
    rotated = rotate(KEYRING)
    assert (rotated.index_key, rotated.suppression_key, rotated.api_key_pepper) == (
        KEYRING.index_key,
        KEYRING.suppression_key,
        KEYRING.api_key_pepper,
    )


def test_rotation_leaves_the_old_keyring_as_it_was() -> None:
    rotate(KEYRING)
    assert (KEYRING.current_kek_id, sorted(KEYRING.keks)) == ("k1", ["k1"])


def test_rotation_after_custom_kek_names_still_finds_a_fresh_name() -> None:
    custom = Keyring("main", {"main": bytes(32)}, bytes(32), bytes(32), bytes(32))
    assert rotate(custom).current_kek_id == "k1"


def test_rotation_rewraps_keys_and_old_data_still_decrypts() -> None:
    key = new_data_key()
    blob = encrypt_field(key, "ana@example.com", **SLOT)
    wrapped = wrap_data_key(KEYRING, key, **OWNER)
    rotated = rotate(KEYRING)
    rewrapped = rewrap(rotated, wrapped, **OWNER)
    assert rewrapped.kek_id == "k2"
    assert decrypt_field(unwrap_data_key(rotated, rewrapped, **OWNER), blob, **SLOT) == "ana@example.com"


def test_a_key_wrapped_before_rotation_still_unwraps_after_it() -> None:
    key = new_data_key()
    wrapped = wrap_data_key(KEYRING, key, **OWNER)
    assert unwrap_data_key(rotate(KEYRING), wrapped, **OWNER) == key


def test_rewrapping_for_another_owner_fails() -> None:
    wrapped = wrap_data_key(KEYRING, new_data_key(), **OWNER)
    with pytest.raises(DecryptionError):
        rewrap(rotate(KEYRING), wrapped, workspace_id="w1", profile_id="p2")


# The key file


def test_the_keyring_round_trips_through_its_file_format() -> None:
    rotated = rotate(KEYRING)
    assert keyring_from_json(keyring_to_json(rotated)) == rotated


def test_the_key_file_holds_every_key_in_base64() -> None:
    doc = json.loads(keyring_to_json(KEYRING))
    assert doc == {
        "current_kek_id": "k1",
        "keks": {"k1": base64.b64encode(KEYRING.keks["k1"]).decode()},
        "index_key": base64.b64encode(KEYRING.index_key).decode(),
        "suppression_key": base64.b64encode(KEYRING.suppression_key).decode(),
        "api_key_pepper": base64.b64encode(KEYRING.api_key_pepper).decode(),
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "the key file is not JSON"),
        ("[]", "the key file is not a JSON object"),
        (_key_file(index_key="AAAA"), "the key file's index_key is not 32 bytes"),
        (_key_file(suppression_key="not base64!"), "the key file's suppression_key is not base64"),
        (_key_file(api_key_pepper=7), "the key file's api_key_pepper is not a base64 string"),
        (_key_file(keks={}), "the key file's keks is not a non-empty object"),
        (_key_file(keks={"k1": "AAAA"}), "the key file's KEK 'k1' is not 32 bytes"),
        (_key_file(current_kek_id="k2"), "the key file's current_kek_id 'k2' names none of the KEKs"),
        (_key_file(current_kek_id=1), "the key file's current_kek_id is not a string"),
    ],
)
def test_a_broken_key_file_is_refused_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(KeyringError) as raised:
        keyring_from_json(text)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    "field", ["current_kek_id", "keks", "index_key", "suppression_key", "api_key_pepper"]
)
def test_a_key_file_missing_a_field_names_it(field: str) -> None:
    doc = json.loads(keyring_to_json(KEYRING))
    del doc[field]
    with pytest.raises(KeyringError, match=f"^the key file has no {field}$"):
        keyring_from_json(json.dumps(doc))


def test_a_keyring_with_a_short_key_cannot_be_built() -> None:
    with pytest.raises(KeyringError, match="suppression_key is not 32 bytes"):
        Keyring("k1", {"k1": bytes(32)}, bytes(32), bytes(16), bytes(32))


def test_the_keyring_repr_shows_no_key_material() -> None:
    text = repr(KEYRING)
    assert text == "Keyring(current_kek_id='k1', keks=['k1'])"


def test_the_keks_cannot_be_changed_through_the_keyring() -> None:
    keks = {"k1": bytes(32)}
    keyring = Keyring("k1", keks, bytes(32), bytes(32), bytes(32))
    keks["k1"] = bytes(range(32))
    with pytest.raises(TypeError):
        keyring.keks["k1"] = bytes(range(32))  # type: ignore[index]
    assert keyring.keks["k1"] == bytes(32)


# Keyed hashes


def test_a_keyed_hash_is_hmac_sha256_over_length_prefixed_utf8_parts() -> None:
    encoded = b"\x00\x00\x00\x01a" + b"\x00\x00\x00\x02\xc3\xa9"
    assert keyed_hash(bytes(32), "a", "é") == hmac.new(bytes(32), encoded, hashlib.sha256).hexdigest()


def test_keyed_hash_parts_cannot_be_shifted() -> None:
    assert keyed_hash(bytes(32), "ab", "c") != keyed_hash(bytes(32), "a", "bc")


def test_a_keyed_hash_refuses_a_short_key() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        keyed_hash(b"", "a")


def test_blind_indexes_are_deterministic() -> None:
    one = blind_index(KEYRING, workspace_id="w1", kind="email", normalized="a@b.co")
    assert one == blind_index(KEYRING, workspace_id="w1", kind="email", normalized="a@b.co")


def test_blind_indexes_are_separated_by_workspace() -> None:
    one = blind_index(KEYRING, workspace_id="w1", kind="email", normalized="a@b.co")
    assert one != blind_index(KEYRING, workspace_id="w2", kind="email", normalized="a@b.co")


def test_blind_indexes_are_separated_by_kind() -> None:
    one = blind_index(KEYRING, workspace_id="w1", kind="user_id", normalized="42")
    assert one != blind_index(KEYRING, workspace_id="w1", kind="anonymous_id", normalized="42")


def test_blind_indexes_depend_on_the_keyring() -> None:
    one = blind_index(KEYRING, workspace_id="w1", kind="email", normalized="a@b.co")
    assert one != blind_index(new_keyring(), workspace_id="w1", kind="email", normalized="a@b.co")


def test_a_suppression_hash_is_not_the_blind_index_of_the_same_identifier() -> None:
    same = {"workspace_id": "w1", "kind": "email", "normalized": "a@b.co"}
    assert suppression_hash(KEYRING, **same) != blind_index(KEYRING, **same)


def test_suppression_hashes_are_deterministic_and_workspace_separated() -> None:
    one = suppression_hash(KEYRING, workspace_id="w1", kind="phone", normalized="+4915112345678")
    assert one == suppression_hash(KEYRING, workspace_id="w1", kind="phone", normalized="+4915112345678")
    assert one != suppression_hash(KEYRING, workspace_id="w2", kind="phone", normalized="+4915112345678")


def test_api_key_digests_are_deterministic_under_one_pepper() -> None:
    assert api_key_digest(KEYRING, "gr_x") == api_key_digest(KEYRING, "gr_x")


def test_api_key_digests_depend_on_the_pepper() -> None:
    assert api_key_digest(KEYRING, "gr_x") != api_key_digest(new_keyring(), "gr_x")
