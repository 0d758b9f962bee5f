"""What a customer is interested in: decayed weight per category and product type."""

from collections.abc import Mapping
from datetime import datetime, timedelta

from server.domain.scoring import DecayedSum, add, value_at
from server.domain.taxonomy import Phase

_SOURCES = ("category", "product_type")
_MAX_KEY = 64


def _keys(properties: Mapping[str, object]) -> list[str]:
    keys: list[str] = []
    for name in _SOURCES:
        value = properties.get(name)
        if isinstance(value, str) and value.strip():
            keys.append(f"{name}:{value.strip().lower()[:_MAX_KEY]}")
    categories = properties.get("categories")
    if isinstance(categories, list):
        keys.extend(
            f"category:{c.strip().lower()[:_MAX_KEY]}" for c in categories if isinstance(c, str) and c.strip()
        )
    return sorted(set(keys))


def add_affinity(
    state: Mapping[str, DecayedSum],
    phase: Phase,
    properties: Mapping[str, object],
    value: float,
    at: datetime,
    half_life: timedelta,
    *,
    max_keys: int = 50,
) -> dict[str, DecayedSum]:
    """DISCOVERY and INTEREST events add their value to each category/product type they name; only
    the max_keys heaviest keys (as of `at`) are kept, so a profile's size stays bounded."""
    if phase not in (Phase.DISCOVERY, Phase.INTEREST) or value <= 0:
        return dict(state)
    keys = _keys(properties)
    if not keys:
        return dict(state)
    updated = dict(state)
    for key in keys:
        updated[key] = add(updated.get(key, DecayedSum()), value, at, half_life)
    if len(updated) > max_keys:
        ranked = sorted(updated, key=lambda k: (-value_at(updated[k], at, half_life), k))
        updated = {k: updated[k] for k in ranked[:max_keys]}
    return updated


def top_affinities(
    state: Mapping[str, DecayedSum], now: datetime, half_life: timedelta, n: int = 10
) -> list[tuple[str, float]]:
    """The n heaviest keys as of `now`, by decayed weight, ties by key."""
    weights = [(key, value_at(s, now, half_life)) for key, s in state.items()]
    return sorted(weights, key=lambda kw: (-kw[1], kw[0]))[:n]
