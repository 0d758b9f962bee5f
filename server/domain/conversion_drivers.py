"""Conversion drivers: the micro-conversion to macro-conversion rates of the micro-conversion method.

For every early micro-conversion (a phase below ACTION, done within the profile's first `withinDays`
before its first purchase), the share of profiles who did it and then converted (an ACTION within
those days), against the share of those who did not. Each rate carries a Wilson score interval
(scipy's `binomtest(...).proportion_ci(method="wilson")`), the difference Newcombe's hybrid score
interval built from the two (Newcombe 1998, method 10), and Fisher's exact test gives the p-value that
is adjusted with Benjamini–Hochberg across the micro-conversions tested.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

from server.domain.ltv_drivers import FALSE_DISCOVERY_RATE, adjusted


@dataclass(frozen=True)
class Rate:
    converted: int
    profiles: int
    rate: float
    low: float  # Wilson score interval
    high: float


def wilson(converted: int, profiles: int, confidence: float = 0.95) -> Rate:
    """converted/profiles with its Wilson score interval (profiles ≥ 1)."""
    interval = stats.binomtest(converted, profiles).proportion_ci(confidence, method="wilson")
    return Rate(converted, profiles, converted / profiles, float(interval.low), float(interval.high))


def newcombe(first: Rate, second: Rate) -> tuple[float, float]:
    """Newcombe's hybrid score interval of d = p₁ − p₂ from the two Wilson intervals:
    [d − √((p₁−l₁)² + (u₂−p₂)²), d + √((u₁−p₁)² + (p₂−l₂)²)]."""
    d = first.rate - second.rate
    return (
        d - math.hypot(first.rate - first.low, second.high - second.rate),
        d + math.hypot(first.high - first.rate, second.rate - second.low),
    )


@dataclass(frozen=True)
class ConversionDriver:
    event: str
    with_: Rate
    without: Rate
    difference: float
    difference_low: float
    difference_high: float
    p_value: float | None  # Fisher's exact test; None when a group is under `min_group`
    q_value: float | None  # Benjamini–Hochberg adjusted across the tested micro-conversions
    significant: bool  # q ≤ 5%


def conversion_drivers(
    profiles: Sequence[tuple[frozenset[str], bool]], *, min_group: int = 30, confidence: float = 0.95
) -> list[ConversionDriver]:
    """Per micro-conversion: conversion rate of the profiles who did it vs. those who did not, largest
    difference first; events done by every profile (nothing to compare with) are left out."""
    total, converted = len(profiles), sum(1 for _, c in profiles if c)
    names = sorted({name for seen, _ in profiles for name in seen})
    rows = []
    for name in names:
        did = sum(1 for seen, _ in profiles if name in seen)
        if did == total:
            continue
        did_converted = sum(1 for seen, c in profiles if c and name in seen)
        with_ = wilson(did_converted, did, confidence)
        without = wilson(converted - did_converted, total - did, confidence)
        tested = min(did, total - did) >= min_group
        p = None
        if tested:
            table = [
                [with_.converted, did - with_.converted],
                [without.converted, without.profiles - without.converted],
            ]
            p = float(stats.fisher_exact(table).pvalue)
        rows.append((name, with_, without, p))
    q_values = iter(adjusted([p for *_, p in rows if p is not None]))
    result = []
    for name, with_, without, p in rows:
        q = next(q_values) if p is not None else None
        low, high = newcombe(with_, without)
        result.append(
            ConversionDriver(
                event=name,
                with_=with_,
                without=without,
                difference=with_.rate - without.rate,
                difference_low=low,
                difference_high=high,
                p_value=p,
                q_value=q,
                significant=q is not None and q <= FALSE_DISCOVERY_RATE,
            )
        )
    return sorted(result, key=lambda d: (-d.difference, d.event))
