"""Histograms over fixed boundaries: a 1-2-5 series by default, the bins between the first and the
last non-empty one (empty ones between them kept, so the shape is honest)."""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

MAX_BOUNDARIES = 50
# 0, then 1, 2, 5, 10, 20, 50, … 5,000,000, 10,000,000: any currency's order values fit in a few bins.
ONE_TWO_FIVE: tuple[float, ...] = (
    0.0,
    *(step * 10.0**decade for decade in range(7) for step in (1, 2, 5)),
    1e7,
)


@dataclass(frozen=True)
class Bin:
    lower: float | None  # None: unbounded below
    upper: float | None  # None: unbounded above
    count: int
    total: float


def valid_boundaries(boundaries: Sequence[float]) -> bool:
    """1 to 50 finite numbers, strictly increasing."""
    return (
        1 <= len(boundaries) <= MAX_BOUNDARIES
        and all(math.isfinite(b) for b in boundaries)
        and all(a < b for a, b in pairwise(boundaries))
    )


def bins(boundaries: Sequence[float], filled: Mapping[float | None, tuple[int, float]]) -> list[Bin]:
    """The bins (−∞, b₁), [b₁, b₂), …, [bₙ, ∞) from the first to the last that holds anything.
    `filled` maps a bin's lower boundary (None for the lowest) to its (count, total)."""
    lowers: list[float | None] = [None, *boundaries]
    uppers: list[float | None] = [*boundaries, None]
    used = [i for i, lower in enumerate(lowers) if filled.get(lower, (0, 0.0))[0] > 0]
    if not used:
        return []
    return [Bin(lowers[i], uppers[i], *filled.get(lowers[i], (0, 0.0))) for i in range(used[0], used[-1] + 1)]
