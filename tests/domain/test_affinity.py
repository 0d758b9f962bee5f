from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.domain.affinity import add_affinity, affinity_keys, top_affinities
from server.domain.scoring import DecayedSum
from server.domain.taxonomy import Phase

H = timedelta(days=7)
T0 = datetime(2026, 3, 1, tzinfo=UTC)
REL = 1e-12


def viewed(
    state: dict[str, DecayedSum], category: str, value: float, at: datetime = T0
) -> dict[str, DecayedSum]:
    return add_affinity(state, Phase.DISCOVERY, {"category": category}, value, at, H)


def test_interest_accumulates_per_category_and_product_type() -> None:
    state = add_affinity({}, Phase.DISCOVERY, {"category": " Shoes ", "product_type": "Sneaker"}, 0.1, T0, H)
    state = add_affinity(state, Phase.INTEREST, {"category": "shoes"}, 0.4, T0, H)
    top = top_affinities(state, T0, H)
    assert [key for key, _ in top] == ["category:shoes", "product_type:sneaker"]
    assert [weight for _, weight in top] == pytest.approx([0.5, 0.1], rel=REL)


def test_affinity_decays_with_the_half_life() -> None:
    state = viewed({}, "hats", 0.2)
    assert top_affinities(state, T0 + H, H)[0][1] == pytest.approx(0.1, rel=REL)


def test_a_late_event_is_decayed_to_the_latest_one() -> None:
    state = viewed(viewed({}, "hats", 0.2, T0 + H), "hats", 0.2, T0)
    assert top_affinities(state, T0 + H, H)[0][1] == pytest.approx(0.3, rel=REL)


@pytest.mark.parametrize(
    ("properties", "keys"),
    [
        ({"category": "Shoes"}, ["category:shoes"]),
        ({"product_type": "  Trail   Running  "}, ["product_type:trail running"]),
        ({"categories": ["Shoes", "Sale", "shoes"]}, ["category:sale", "category:shoes"]),
        ({"categories": ("Bags",), "category": "bags"}, ["category:bags"]),
        ({"category": "x" * 100}, ["category:" + "x" * 64]),
        ({"category": "  ", "product_type": 7, "categories": "shoes"}, []),
        ({"brand": "Acme", "sku": "A-1"}, []),
    ],
)
def test_keys_are_normalised_names_of_category_and_product_type(
    properties: dict[str, object], keys: list[str]
) -> None:
    assert affinity_keys(properties) == keys


def test_every_category_in_a_list_gains_the_events_value() -> None:
    state = add_affinity({}, Phase.INTEREST, {"categories": ["shoes", "sale"]}, 0.4, T0, H)
    assert top_affinities(state, T0, H) == [("category:sale", 0.4), ("category:shoes", 0.4)]


@pytest.mark.parametrize("phase", [Phase.INTENT, Phase.ACTION, None])
def test_only_discovery_and_interest_events_move_affinities(phase: Phase | None) -> None:
    assert add_affinity({}, phase, {"category": "hats"}, 0.65, T0, H) == {}


def test_a_worthless_event_moves_nothing() -> None:
    assert viewed({}, "hats", 0.0) == {}


def test_the_given_state_is_left_untouched() -> None:
    before = viewed({}, "hats", 0.1)
    snapshot = dict(before)
    after = viewed(before, "shoes", 0.2)
    assert (before, set(after)) == (snapshot, {"category:hats", "category:shoes"})


def test_only_the_heaviest_keys_are_kept() -> None:
    state: dict[str, DecayedSum] = {}
    for i in range(5):
        state = add_affinity(state, Phase.DISCOVERY, {"category": f"c{i}"}, 0.1 * (i + 1), T0, H, max_keys=3)
    assert sorted(state) == ["category:c2", "category:c3", "category:c4"]


def test_an_old_heavy_key_gives_way_to_a_fresh_one_when_it_has_decayed_below() -> None:
    state = add_affinity({}, Phase.DISCOVERY, {"category": "old"}, 0.3, T0, H, max_keys=1)
    state = add_affinity(state, Phase.DISCOVERY, {"category": "new"}, 0.2, T0 + H, H, max_keys=1)
    assert list(state) == ["category:new"]


def test_ties_at_the_cut_keep_the_first_keys_alphabetically() -> None:
    state: dict[str, DecayedSum] = {}
    for name in ("b", "c", "a"):
        state = add_affinity(state, Phase.DISCOVERY, {"category": name}, 0.1, T0, H, max_keys=2)
    assert sorted(state) == ["category:a", "category:b"]


def test_ties_in_the_ranking_are_ordered_by_key() -> None:
    state = viewed(viewed(viewed({}, "b", 0.1), "a", 0.1), "c", 0.2)
    assert [key for key, _ in top_affinities(state, T0, H)] == ["category:c", "category:a", "category:b"]


def test_top_ten_by_default() -> None:
    state: dict[str, DecayedSum] = {}
    for i in range(12):
        state = viewed(state, f"c{i:02d}", 0.1 + i / 100)
    assert [key for key, _ in top_affinities(state, T0, H)] == [
        f"category:c{i:02d}" for i in range(11, 1, -1)
    ]


@pytest.mark.parametrize(("n", "count"), [(0, 0), (-1, 0), (2, 2), (50, 3)])
def test_top_returns_at_most_n(n: int, count: int) -> None:
    state = viewed(viewed(viewed({}, "a", 0.1), "b", 0.2), "c", 0.3)
    assert len(top_affinities(state, T0, H, n)) == count


@given(
    events=st.lists(
        st.tuples(st.sampled_from("abcdefgh"), st.floats(0.1, 0.6), st.integers(0, 60)),
        max_size=30,
    ),
    max_keys=st.integers(1, 5),
)
def test_a_profile_never_holds_more_than_max_keys(
    events: list[tuple[str, float, int]], max_keys: int
) -> None:
    state: dict[str, DecayedSum] = {}
    for name, value, days in events:
        state = add_affinity(
            state, Phase.INTEREST, {"category": name}, value, T0 + timedelta(days=days), H, max_keys=max_keys
        )
    assert len(state) <= max_keys
