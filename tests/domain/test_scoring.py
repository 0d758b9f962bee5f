import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain.scoring import (
    EMPTY_STATE,
    DecayedSum,
    ScoredEvent,
    add,
    apply_event,
    engagement_score,
    explain,
    intent_score,
    phase,
    recompute,
    value_at,
)
from server.domain.taxonomy import Phase

H = timedelta(days=7)
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def ev(minutes: float, value: float, p: Phase | None = Phase.DISCOVERY, name: str = "e") -> ScoredEvent:
    return ScoredEvent(at=T0 + timedelta(minutes=minutes), name=name, value=value, phase=p)


def test_engagement_is_the_sum_of_values_halved_every_half_life() -> None:
    state = recompute([ev(0, 0.4), ev(0, 0.6)], H)
    assert engagement_score(state, T0 + H, H) == pytest.approx(0.5, rel=1e-12)
    assert engagement_score(state, T0 + 2 * H, H) == pytest.approx(0.25, rel=1e-12)


def test_intent_is_one_minus_exp_of_the_open_journeys_decayed_sum() -> None:
    state = recompute([ev(0, 0.65, Phase.INTENT)], H)
    assert intent_score(state, T0, H) == pytest.approx(1 - math.exp(-0.65), rel=1e-12)


def test_a_late_event_updates_the_sum_exactly() -> None:
    late = add(add(DecayedSum(), 1.0, T0 + H, H), 1.0, T0, H)
    assert value_at(late, T0 + H, H) == pytest.approx(1.5, rel=1e-12)


def test_phase_is_the_highest_reached_in_the_open_journey() -> None:
    state = recompute([ev(0, 0.1), ev(5, 0.65, Phase.INTENT), ev(9, 0.4, Phase.INTEREST)], H)
    assert phase(state, T0 + timedelta(minutes=10)) is Phase.INTENT


def test_an_action_closes_the_journey() -> None:
    state = recompute([ev(0, 0.65, Phase.INTENT), ev(5, 1.0, Phase.ACTION)], H)
    now = T0 + timedelta(minutes=6)
    assert (phase(state, now), intent_score(state, now, H)) == (None, 0.0)
    assert engagement_score(state, now, H) > 1.6


def test_the_next_event_after_an_action_opens_a_new_journey() -> None:
    state = recompute([ev(0, 1.0, Phase.ACTION), ev(5, 0.1)], H)
    assert (state.journeys, phase(state, T0 + timedelta(minutes=6))) == (2, Phase.DISCOVERY)


def test_thirty_idle_days_close_the_journey() -> None:
    state = recompute([ev(0, 0.65, Phase.INTENT)], H)
    later = T0 + timedelta(days=30, minutes=1)
    assert (phase(state, later), intent_score(state, later, H)) == (None, 0.0)


def test_an_event_after_thirty_idle_days_starts_over() -> None:
    state = recompute([ev(0, 0.65, Phase.INTENT), ev(60 * 24 * 31, 0.1)], H)
    assert (state.journeys, state.journey_phase) == (2, Phase.DISCOVERY)


def test_an_event_older_than_the_open_journey_changes_engagement_only() -> None:
    state = recompute([ev(0, 1.0, Phase.ACTION), ev(10, 0.1)], H)
    late = apply_event(state, ev(-60, 0.65, Phase.INTENT), H)
    assert (late.journey, late.journey_phase) == (state.journey, state.journey_phase)
    assert late.engagement != state.engagement


streams = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=60 * 24 * 90),
        st.sampled_from([0.1, 0.25, 0.4, 0.65, 0.9, 1.0]),
        st.sampled_from(list(Phase)),
    ),
    max_size=40,
)


@settings(max_examples=150)
@given(stream=streams)
def test_incremental_scores_equal_a_full_recompute(stream: list[tuple[float, float, Phase]]) -> None:
    events = sorted((ev(m, v, p) for m, v, p in stream), key=lambda e: e.at)
    incremental = EMPTY_STATE
    for event in events:
        incremental = apply_event(incremental, event, H)
    full = recompute(events, H)
    now = T0 + timedelta(days=100)
    assert engagement_score(incremental, now, H) == pytest.approx(
        engagement_score(full, now, H), rel=1e-9, abs=1e-300
    )
    assert intent_score(incremental, now, H) == pytest.approx(intent_score(full, now, H), rel=1e-9)
    assert (incremental.journeys, incremental.journey_phase) == (full.journeys, full.journey_phase)


@given(stream=streams, seed=st.randoms(use_true_random=False))
def test_engagement_is_exact_in_any_arrival_order(
    stream: list[tuple[float, float, Phase]], seed: object
) -> None:
    events = [ev(m, v, p) for m, v, p in stream]
    shuffled = list(events)
    seed.shuffle(shuffled)  # type: ignore[attr-defined]
    state = EMPTY_STATE
    for event in shuffled:
        state = apply_event(state, event, H)
    now = T0 + timedelta(days=100)
    expected = sum(e.value * 2 ** (-((now - e.at) / H)) for e in events)
    assert engagement_score(state, now, H) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_explanation_lists_the_heaviest_contributions_first() -> None:
    events = [ev(0, 0.1, name="product_viewed"), ev(1, 0.65, Phase.INTENT, name="checkout_started")]
    explanation = explain(events, T0 + timedelta(minutes=2), H)
    assert [c.name for c in explanation.engagement] == ["checkout_started", "product_viewed"]
    assert [c.name for c in explanation.intent] == ["checkout_started", "product_viewed"]
    top = explanation.engagement[0]
    assert top.weight == pytest.approx(top.value * top.decay)
