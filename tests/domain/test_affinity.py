from datetime import UTC, datetime, timedelta

import pytest

from server.domain.affinity import add_affinity, top_affinities
from server.domain.taxonomy import Phase

H = timedelta(days=7)
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_interest_accumulates_per_category_and_product_type() -> None:
    state = add_affinity({}, Phase.DISCOVERY, {"category": " Shoes ", "product_type": "Sneaker"}, 0.1, T0, H)
    state = add_affinity(state, Phase.INTEREST, {"category": "shoes"}, 0.4, T0, H)
    assert top_affinities(state, T0, H) == [
        ("category:shoes", pytest.approx(0.5)),
        ("product_type:sneaker", pytest.approx(0.1)),
    ]


def test_affinity_decays_with_the_half_life() -> None:
    state = add_affinity({}, Phase.DISCOVERY, {"category": "hats"}, 0.2, T0, H)
    assert top_affinities(state, T0 + H, H) == [("category:hats", pytest.approx(0.1))]


def test_intent_and_action_events_do_not_move_affinities() -> None:
    assert add_affinity({}, Phase.INTENT, {"category": "hats"}, 0.65, T0, H) == {}


def test_only_the_heaviest_keys_are_kept() -> None:
    state: dict = {}  # type: ignore[type-arg]
    for i in range(5):
        state = add_affinity(state, Phase.DISCOVERY, {"category": f"c{i}"}, 0.1 * (i + 1), T0, H, max_keys=3)
    assert sorted(state) == ["category:c2", "category:c3", "category:c4"]


def test_top_ten_at_most() -> None:
    state: dict = {}  # type: ignore[type-arg]
    for i in range(12):
        state = add_affinity(state, Phase.DISCOVERY, {"category": f"c{i:02d}"}, 0.1, T0, H)
    assert len(top_affinities(state, T0, H)) == 10
