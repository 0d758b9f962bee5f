from datetime import UTC, datetime

import pytest

from server.domain.errors import InvalidInput
from server.domain.paging import (
    MAX_PAGE,
    cursor_time,
    decode_cursor,
    encode_cursor,
    page_of,
    page_request,
    page_size,
)


@pytest.mark.parametrize("first", [1, 50, MAX_PAGE])
def test_a_page_size_within_bounds_is_kept(first: int) -> None:
    assert page_size(first) == first


@pytest.mark.parametrize(
    ("first", "code"), [(MAX_PAGE + 1, "PAGE_TOO_LARGE"), (0, "OUT_OF_RANGE"), (-3, "OUT_OF_RANGE")]
)
def test_a_page_size_out_of_bounds_is_refused_with_its_code(first: int, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        page_size(first)
    assert (refused.value.code, refused.value.field) == (code, "first")


def test_a_cursor_gives_back_the_keys_it_was_made_of() -> None:
    assert decode_cursor(encode_cursor("2026-01-01T00:00:00+00:00", "ev|1"), 2) == (
        "2026-01-01T00:00:00+00:00",
        "ev|1",
    )


@pytest.mark.parametrize(
    "cursor", ["not base64!", "bm90IGpzb24=", encode_cursor("a"), encode_cursor("a", "b", "c")]
)
def test_a_cursor_this_api_did_not_issue_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        decode_cursor(cursor, 2)
    assert refused.value.code == "INVALID_CURSOR"


def test_a_cursor_time_that_is_not_a_time_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        cursor_time("yesterday")
    assert refused.value.code == "INVALID_CURSOR"


def test_a_cursor_time_is_read_back_with_its_zone() -> None:
    at = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    assert cursor_time(at.isoformat()) == at


def test_the_extra_row_read_tells_that_another_page_follows() -> None:
    request = page_request(2, None)
    page = page_of(["a", "b", "c"], request, lambda item: (item,))
    assert (page.items, page.has_next, decode_cursor(page.end_cursor, 1)) == (["a", "b"], True, ("b",))


def test_the_last_page_says_nothing_follows() -> None:
    page = page_of(["a"], page_request(2, None), lambda item: (item,))
    assert (page.items, page.has_next) == (["a"], False)


def test_an_empty_page_has_no_end_cursor() -> None:
    page = page_of([], page_request(5, None), lambda item: (item,))
    assert (page.end_cursor, page.has_next) == (None, False)


def test_a_request_reads_one_row_more_than_its_page() -> None:
    assert page_request(MAX_PAGE, encode_cursor("x")).fetch == MAX_PAGE + 1
