import math

import pytest

from server.domain.histogram import ONE_TWO_FIVE, Bin, bins, valid_boundaries


@pytest.mark.parametrize(
    ("boundaries", "valid"),
    [
        ([0.0], True),
        ([0.0, 10.0, 100.0], True),
        (list(ONE_TWO_FIVE), True),
        ([], False),
        ([float(i) for i in range(51)], False),
        ([10.0, 10.0], False),
        ([10.0, 1.0], False),
        ([0.0, math.inf], False),
        ([math.nan], False),
    ],
)
def test_boundaries_are_1_to_50_finite_increasing_numbers(boundaries: list[float], valid: bool) -> None:
    assert valid_boundaries(boundaries) is valid


def test_the_default_series_goes_1_2_5_from_0_to_ten_million() -> None:
    assert ONE_TWO_FIVE[:5] == (0.0, 1.0, 2.0, 5.0, 10.0)
    assert ONE_TWO_FIVE[-1] == 1e7


def test_bins_run_from_the_first_to_the_last_filled_one_with_empty_ones_between() -> None:
    found = bins([0.0, 10.0, 20.0, 50.0], {0.0: (2, 9.0), 50.0: (1, 70.0)})
    assert found == [
        Bin(0.0, 10.0, 2, 9.0),
        Bin(10.0, 20.0, 0, 0.0),
        Bin(20.0, 50.0, 0, 0.0),
        Bin(50.0, None, 1, 70.0),
    ]


def test_the_lowest_bin_is_unbounded_below() -> None:
    assert bins([0.0, 10.0], {None: (1, -5.0)}) == [Bin(None, 0.0, 1, -5.0)]


def test_nothing_filled_gives_no_bins() -> None:
    assert bins([0.0, 10.0], {}) == []
