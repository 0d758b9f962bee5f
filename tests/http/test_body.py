import pytest

from server.domain.message_shape import TOO_DEEP
from server.http.body import decode


def test_ordinary_json_decodes_as_json_does() -> None:
    assert decode(b'{"batch": [{"a": 1.5, "b": [true, null]}]}') == {"batch": [{"a": 1.5, "b": [True, None]}]}


def test_a_value_nested_thousands_deep_becomes_the_marker_and_the_rest_survives() -> None:
    body = '{"batch": [{"a": 1}, {"p": ' + "[" * 10_000 + "]" * 10_000 + "}]}"
    decoded = decode(body.encode())
    assert decoded["batch"][0] == {"a": 1}
    value = decoded["batch"][1]["p"]
    while isinstance(value, list):
        (value,) = value
    assert value == TOO_DEEP


def test_a_deep_body_that_is_not_json_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="JSON"):
        decode(b"[" * 5_000 + b"}")
