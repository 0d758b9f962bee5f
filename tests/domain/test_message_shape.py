import math
from typing import Any

import bson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.domain.message_shape import MAX_DEPTH, TOO_DEEP, shape_problem

FIELDS = frozenset({"properties", "traits", "context"})


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def _code(message: dict[str, Any]) -> str | None:
    problem = shape_problem(message, FIELDS)
    return problem.code if problem else None


def test_an_ordinary_message_has_no_problem() -> None:
    assert _code({"event": "x", "properties": {"price": 9.5, "tags": ["a"], "n": 2**63 - 1}}) is None


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"properties": {"a\x00b": 1}}, "INVALID_KEY"),
        ({"traits": {"$set": 1}}, "INVALID_KEY"),
        ({"properties": {"n": 2**63}}, "NUMBER_OUT_OF_RANGE"),
        ({"properties": {"n": -(2**63) - 1}}, "NUMBER_OUT_OF_RANGE"),
        ({"properties": {"x": math.inf}}, "NOT_FINITE"),
        ({"properties": {"x": -math.inf}}, "NOT_FINITE"),
        ({"properties": {"x": math.nan}}, "NOT_FINITE"),
        ({"properties": {"x": _nested(MAX_DEPTH)}}, "TOO_DEEP"),
        ({"properties": {"x": ["fine", TOO_DEEP]}}, "TOO_DEEP"),
        ({"properties": {"x": "y" * 40_000}}, "EVENT_TOO_LARGE"),
    ],
)
def test_each_thing_a_document_cannot_hold_has_its_code(message: dict[str, Any], code: str) -> None:
    assert _code(message) == code


def test_a_problem_names_the_top_level_field_and_never_a_callers_key() -> None:
    problem = shape_problem({"properties": {"ana@example.com": {"n": 2**70}}}, FIELDS)
    assert problem is not None
    assert (problem.field, "ana@example.com" in problem.message) == ("properties", False)


def test_nesting_far_beyond_the_limit_is_checked_without_recursion() -> None:
    assert _code({"properties": {"x": _nested(100_000)}}) == "TOO_DEEP"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@given(properties=st.dictionaries(st.text(), json_values, max_size=5))
def test_whatever_passes_the_check_a_document_can_store(properties: dict[str, Any]) -> None:
    if _code({"properties": properties}) is None:
        bson.encode({"properties": properties})
