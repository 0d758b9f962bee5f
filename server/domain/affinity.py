"""What a customer is interested in: decayed weight per category and product type."""

import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from server.domain.scoring import DecayedSum, add, value_at
from server.domain.taxonomy import Phase

AffinityState = Mapping[str, DecayedSum]

_SOURCES = ("category", "product_type")
_MAX_KEY = 64
_SPACES = re.compile(r"\s+")


def _key(kind: str, raw: object) -> str | None:
    if not isinstance(raw, str):
        return None
    text = _SPACES.sub(" ", raw).strip().lower()[:_MAX_KEY].rstrip()
    return f"{kind}:{text}" if text else None


def affinity_keys(properties: Mapping[str, object]) -> list[str]:
    """Keys "category:<c>" for `category` and each of `categories`, "product_type:<t>" for `product_type`;
    values lower-cased, whitespace trimmed and collapsed, cut to 64 characters; sorted, no repeats."""
    raws: list[tuple[str, object]] = [(name, properties.get(name)) for name in _SOURCES]
    categories = properties.get("categories")
    if isinstance(categories, list | tuple):
        raws.extend(("category", c) for c in categories)
    return sorted({key for kind, raw in raws if (key := _key(kind, raw)) is not None})


def add_affinity(
    state: AffinityState,
    event_phase: Phase | None,
    properties: Mapping[str, object],
    value: float,
    at: datetime,
    half_life: timedelta,
    *,
    max_keys: int = 50,
) -> dict[str, DecayedSum]:
    """A DISCOVERY or INTEREST event with value > 0 adds its value to each key it names (see
    affinity_keys); then only the max_keys heaviest keys are kept (ties by key), so a profile stays small."""
    updated = dict(state)
    if event_phase not in (Phase.DISCOVERY, Phase.INTEREST) or value <= 0:
        return updated
    for key in affinity_keys(properties):
        updated[key] = add(updated.get(key, DecayedSum()), value, at, half_life)
    if len(updated) > max_keys:
        # Every key decays at the same rate, so the ranking as of `at` is the ranking at any time.
        ranked = sorted(updated, key=lambda k: (-value_at(updated[k], at, half_life), k))
        updated = {k: updated[k] for k in ranked[: max(max_keys, 0)]}
    return updated


def top_affinities(
    state: AffinityState, now: datetime, half_life: timedelta, n: int = 10
) -> list[tuple[str, float]]:
    """The n heaviest (key, total · 2^(−(now − ref)/H)), descending by weight, ties by key."""
    weights = [(key, value_at(s, now, half_life)) for key, s in state.items()]
    return sorted(weights, key=lambda kw: (-kw[1], kw[0]))[: max(n, 0)]
