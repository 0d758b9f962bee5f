import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain.scoring import (
    EMPTY_STATE,
    JOURNEY_IDLE,
    DecayedSum,
    ScoredEvent,
    ScoreState,
    add,
    apply_event,
    engagement_score,
    explain,
    intent_score,
    journey_open,
    journeys_of,
    open_journey,
    phase,
    recompute,
    value_at,
)
from server.domain.taxonomy import Phase

H = timedelta(days=7)
T0 = datetime(2026, 3, 1, tzinfo=UTC)
DAY = 60 * 24
REL = 1e-12
DISCOVERY, INTEREST, INTENT, ACTION = Phase.DISCOVERY, Phase.INTEREST, Phase.INTENT, Phase.ACTION


def ev(minutes: float, value: float, p: Phase | None = DISCOVERY, name: str = "e") -> ScoredEvent:
    return ScoredEvent(at=T0 + timedelta(minutes=minutes), name=name, value=value, phase=p)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def fold(events: list[ScoredEvent]) -> ScoreState:
    state = EMPTY_STATE
    for event in events:
        state = apply_event(state, event, H)
    return state


# -- decayed sums -----------------------------------------------------------------------------------


def test_an_empty_sum_is_worth_nothing() -> None:
    assert value_at(DecayedSum(), T0, H) == 0.0


def test_a_sum_halves_every_half_life() -> None:
    s = add(DecayedSum(), 0.8, T0, H)
    assert [value_at(s, T0 + k * H, H) for k in range(3)] == pytest.approx([0.8, 0.4, 0.2], rel=REL)


def test_a_later_value_moves_the_reference_time_and_decays_the_total() -> None:
    s = add(add(DecayedSum(), 1.0, T0, H), 1.0, T0 + H, H)
    assert s.ref == T0 + H
    assert s.total == pytest.approx(1.5, rel=REL)


def test_a_late_value_keeps_the_reference_time_and_is_decayed_to_it() -> None:
    s = add(add(DecayedSum(), 1.0, T0 + H, H), 1.0, T0, H)
    assert s.ref == T0 + H
    assert s.total == pytest.approx(1.5, rel=REL)


def test_adding_leaves_the_old_sum_untouched() -> None:
    before = add(DecayedSum(), 1.0, T0, H)
    add(before, 1.0, T0 + H, H)
    assert before == DecayedSum(1.0, T0)


# -- engagement, intent, phase ----------------------------------------------------------------------


def test_engagement_is_the_sum_of_values_halved_every_half_life() -> None:
    state = recompute([ev(0, 0.4), ev(0, 0.6)], H)
    assert engagement_score(state, T0 + H, H) == pytest.approx(0.5, rel=REL)
    assert engagement_score(state, T0 + 2 * H, H) == pytest.approx(0.25, rel=REL)


def test_engagement_counts_every_journey() -> None:
    state = recompute([ev(0, 1.0, ACTION), ev(7 * DAY, 0.4)], H)
    assert engagement_score(state, T0 + H, H) == pytest.approx(0.5 + 0.4, rel=REL)


def test_intent_is_one_minus_exp_of_the_open_journeys_decayed_sum() -> None:
    state = recompute([ev(0, 0.65, INTENT), ev(7 * DAY, 0.75, INTENT)], H)
    assert intent_score(state, T0 + H, H) == pytest.approx(1 - math.exp(-(0.325 + 0.75)), rel=REL)


def test_intent_decays_with_the_half_life() -> None:
    state = recompute([ev(0, 0.9, INTENT)], H)
    assert intent_score(state, T0 + 2 * H, H) == pytest.approx(1 - math.exp(-0.225), rel=REL)


def test_no_events_no_scores() -> None:
    assert (
        engagement_score(EMPTY_STATE, T0, H),
        intent_score(EMPTY_STATE, T0, H),
        phase(EMPTY_STATE),
    ) == (
        0.0,
        0.0,
        None,
    )


def test_phase_is_the_highest_reached_in_the_open_journey() -> None:
    state = recompute([ev(0, 0.1), ev(5, 0.65, INTENT), ev(9, 0.4, INTEREST)], H)
    assert (phase(state), journey_open(state, at(10))) == (INTENT, True)


def test_an_event_outside_the_funnel_opens_no_journey() -> None:
    state = recompute([ev(0, 0.0, None)], H)
    assert (phase(state), state.journeys, journey_open(state, at(1))) == (None, 0, False)


def test_first_and_last_seen_span_every_event() -> None:
    state = fold([ev(10, 0.1), ev(0, 0.1), ev(5, 0.1)])
    assert (state.first_seen, state.last_seen) == (at(0), at(10))


# -- journeys ---------------------------------------------------------------------------------------


def test_an_action_closes_the_journey_and_the_phase_stays_action() -> None:
    state = recompute([ev(0, 0.65, INTENT), ev(5, 1.0, ACTION)], H)
    now = at(6)
    assert (phase(state), journey_open(state, now), intent_score(state, now, H)) == (ACTION, False, 0.0)
    assert engagement_score(state, now, H) == pytest.approx(
        0.65 * 2 ** (-6 / (7 * DAY)) + 2 ** (-1 / (7 * DAY)), rel=REL
    )


def test_the_next_event_after_an_action_opens_a_new_journey() -> None:
    state = recompute([ev(0, 1.0, ACTION), ev(5, 0.1)], H)
    now = at(5)
    assert (state.journeys, phase(state), state.journey_started_at) == (2, DISCOVERY, at(5))
    assert journey_open(state, now)
    assert intent_score(state, now, H) == pytest.approx(1 - math.exp(-0.1), rel=REL)


def test_an_event_at_the_very_time_of_the_action_belongs_to_its_journey() -> None:
    state = fold([ev(0, 1.0, ACTION), ev(0, 0.1)])
    assert (state.journeys, state.journey_closed) == (1, True)


def test_a_journey_idle_exactly_thirty_days_is_still_open() -> None:
    state = recompute([ev(0, 0.65, INTENT)], H)
    assert journey_open(state, T0 + JOURNEY_IDLE)


def test_more_than_thirty_idle_days_close_the_journey_but_keep_its_phase() -> None:
    state = recompute([ev(0, 0.65, INTENT)], H)
    later = T0 + JOURNEY_IDLE + timedelta(minutes=1)
    assert (phase(state), journey_open(state, later), intent_score(state, later, H)) == (INTENT, False, 0.0)


def test_the_phase_stays_action_until_the_next_micro_conversion() -> None:
    purchase = [ev(0, 0.65, INTENT), ev(5, 1.0, ACTION)]
    # Neither a page view nor a refund (no phase) starts a journey, even months later.
    after = recompute([*purchase, ev(10, 0.0, None, "page_viewed"), ev(90 * DAY, 0.0, None)], H)
    assert (phase(after), journey_open(after, at(90 * DAY)), after.journeys) == (ACTION, False, 1)
    browsing = recompute([*purchase, ev(10, 0.0, None), ev(20, 0.1, DISCOVERY)], H)
    assert (phase(browsing), journey_open(browsing, at(20)), browsing.journeys) == (DISCOVERY, True, 2)


def test_an_event_without_a_phase_neither_joins_nor_extends_the_open_journey() -> None:
    state = recompute([ev(0, 0.4, INTEREST), ev(20 * DAY, 0.5, None)], H)
    assert (state.journey_last_at, state.journey.total) == (at(0), 0.4)
    assert engagement_score(state, at(20 * DAY), H) == pytest.approx(0.5 + 0.4 * 2 ** (-20 / 7), rel=REL)
    assert not journey_open(state, at(31 * DAY))


def test_an_event_thirty_days_later_continues_the_journey() -> None:
    state = recompute([ev(0, 0.65, INTENT), ev(30 * DAY, 0.1)], H)
    assert (state.journeys, state.journey_phase) == (1, INTENT)


def test_an_event_after_more_than_thirty_idle_days_starts_over() -> None:
    state = recompute([ev(0, 0.65, INTENT), ev(30 * DAY + 1, 0.1)], H)
    assert (state.journeys, state.journey_phase, state.journey_started_at) == (2, DISCOVERY, at(30 * DAY + 1))
    assert intent_score(state, at(30 * DAY + 1), H) == pytest.approx(1 - math.exp(-0.1), rel=REL)


# -- late events ------------------------------------------------------------------------------------


def test_a_late_event_inside_the_open_journey_joins_it_exactly() -> None:
    state = fold([ev(0, 0.1), ev(2 * DAY, 0.4, INTEREST), ev(1 * DAY, 0.65, INTENT)])
    assert (state.journeys, state.journey_started_at, state.journey_last_at, state.journey_phase) == (
        1,
        at(0),
        at(2 * DAY),
        INTENT,
    )
    assert intent_score(state, at(2 * DAY), H) == pytest.approx(
        1 - math.exp(-(0.1 * 2 ** (-2 / 7) + 0.65 * 2 ** (-1 / 7) + 0.4)), rel=REL
    )


def test_a_late_event_within_thirty_days_before_the_journey_extends_it_backward() -> None:
    state = fold([ev(0, 1.0, ACTION), ev(20 * DAY, 0.1), ev(5 * DAY, 0.4, INTEREST)])
    assert (state.journeys, state.journey_started_at, state.journey_phase) == (2, at(5 * DAY), INTEREST)
    assert intent_score(state, at(20 * DAY), H) == pytest.approx(
        1 - math.exp(-(0.1 + 0.4 * 2 ** (-15 / 7))), rel=REL
    )


def test_a_late_event_of_the_previous_journey_changes_engagement_only() -> None:
    earlier = [ev(0, 0.65, INTENT), ev(10, 1.0, ACTION), ev(20, 0.1)]
    state = recompute(earlier, H)
    late = apply_event(state, ev(5, 0.75, INTENT), H)
    assert (late.journey, late.journey_phase, late.journey_started_at) == (state.journey, DISCOVERY, at(20))
    assert engagement_score(late, at(20), H) == pytest.approx(
        engagement_score(recompute([*earlier, ev(5, 0.75, INTENT)], H), at(20), H), rel=REL
    )


def test_a_late_event_more_than_thirty_days_before_the_journey_changes_engagement_only() -> None:
    state = recompute([ev(0, 0.1)], H)
    late = apply_event(state, ev(-31 * DAY, 0.65, INTENT), H)
    assert (late.journey, late.journey_phase, late.journeys) == (state.journey, DISCOVERY, 1)


def test_a_late_action_before_the_journey_keeps_it_open_and_bars_older_events() -> None:
    state = fold([ev(10 * DAY, 0.1), ev(5 * DAY, 1.0, ACTION), ev(2 * DAY, 0.65, INTENT)])
    assert (state.journey_started_at, state.journey_closed, state.journey_phase) == (
        at(10 * DAY),
        False,
        DISCOVERY,
    )
    assert state.engagement.total == pytest.approx(0.1 + 2 ** (-5 / 7) + 0.65 * 2 ** (-8 / 7), rel=REL)


def test_a_late_action_inside_the_open_journey_closes_it() -> None:
    state = fold([ev(0, 0.1), ev(2 * DAY, 0.4, INTEREST), ev(1 * DAY, 1.0, ACTION)])
    assert (journey_open(state, at(2 * DAY)), phase(state)) == (False, ACTION)


def test_engagement_is_exact_for_a_late_event_from_long_ago() -> None:
    state = fold([ev(0, 0.5), ev(-70 * DAY, 1.0)])
    assert engagement_score(state, T0, H) == pytest.approx(0.5 + 2**-10, rel=REL)


# -- properties -------------------------------------------------------------------------------------

event_specs = st.tuples(
    st.integers(min_value=0, max_value=90 * DAY),
    st.sampled_from([0.0, 0.1, 0.25, 0.4, 0.65, 0.9, 1.0]),
    st.sampled_from([*Phase, None]),
)
streams = st.lists(event_specs, max_size=40)
NOW = T0 + timedelta(days=100)


def reference(events: list[ScoredEvent], now: datetime) -> tuple[float, float, Phase | None, bool, int]:
    """The definitions of DESIGN §6 written out directly: engagement, intent, phase, open, journeys."""
    ordered = sorted((e for e in events if e.phase is not None), key=lambda e: e.at)
    journeys: list[list[ScoredEvent]] = []
    for e in ordered:
        previous = journeys[-1] if journeys else None
        closed = previous is not None and any(p.phase is ACTION for p in previous)
        if previous is None or (closed and e.at > previous[-1].at) or e.at - previous[-1].at > JOURNEY_IDLE:
            journeys.append([e])
        else:
            previous.append(e)
    engagement = sum(e.value * 2 ** -((now - e.at) / H) for e in events)
    last = journeys[-1] if journeys else []
    is_open = bool(last) and all(e.phase is not ACTION for e in last) and now - last[-1].at <= JOURNEY_IDLE
    journey = last if is_open else []
    intent = 1 - math.exp(-sum(e.value * 2 ** -((now - e.at) / H) for e in journey))
    reached = max((e.phase for e in last if e.phase is not None), default=None)
    return engagement, intent, reached, is_open, len(journeys)


def scores(state: ScoreState, now: datetime) -> tuple[float, float, Phase | None, bool, int]:
    return (
        engagement_score(state, now, H),
        intent_score(state, now, H),
        phase(state),
        journey_open(state, now),
        state.journeys,
    )


@settings(max_examples=200)
@given(stream=streams, days=st.integers(min_value=0, max_value=140))
def test_incremental_scores_in_time_order_match_the_definitions(
    stream: list[tuple[int, float, Phase | None]], days: int
) -> None:
    events = sorted((ev(m, v, p) for m, v, p in stream), key=lambda e: e.at)
    now = T0 + timedelta(days=days)
    engagement, intent, reached, is_open, count = scores(fold(events), now)
    ref_engagement, ref_intent, ref_reached, ref_open, ref_count = reference(events, now)
    assert engagement == pytest.approx(ref_engagement, rel=1e-9, abs=1e-12)
    assert intent == pytest.approx(ref_intent, rel=1e-9, abs=1e-12)
    assert (reached, is_open, count) == (ref_reached, ref_open, ref_count)


JOURNEY_FIELDS = ("journey_started_at", "journey_last_at", "journey_phase", "journey_closed", "journeys")


def assert_same_scores(incremental: ScoreState, full: ScoreState, now: datetime) -> None:
    assert [getattr(incremental, f) for f in JOURNEY_FIELDS] == [getattr(full, f) for f in JOURNEY_FIELDS]
    for score in (engagement_score, intent_score):
        assert score(incremental, now, H) == pytest.approx(score(full, now, H), rel=1e-9, abs=1e-12)


@settings(max_examples=200)
@given(stream=streams)
def test_incremental_in_time_order_equals_a_full_recompute(
    stream: list[tuple[int, float, Phase | None]],
) -> None:
    events = sorted((ev(m, v, p) for m, v, p in stream), key=lambda e: e.at)
    # Reversed, events at one instant are recomputed in the other order: ties must not matter.
    assert_same_scores(fold(events), recompute(reversed(events), H), NOW)


@settings(max_examples=200)
@given(
    history=st.lists(st.tuples(st.integers(-60 * DAY, 0), st.sampled_from([0.1, 0.4, 0.65]))),
    journey=st.lists(
        st.tuples(
            st.integers(1, 30 * DAY),
            st.sampled_from([0.0, 0.1, 0.4, 0.65]),
            st.sampled_from([DISCOVERY, INTEREST, INTENT, None]),
        ),
        min_size=1,
        max_size=25,
    ),
    converted=st.booleans(),
    seed=st.integers(),
)
def test_a_journey_arriving_in_any_order_after_its_history_scores_as_recomputed(
    history: list[tuple[int, float]],
    journey: list[tuple[int, float, Phase | None]],
    converted: bool,
    seed: int,
) -> None:
    # The history ends with an order at T0, so the journey (within 30 days after it) is one journey.
    before = sorted([*(ev(m, v, INTENT) for m, v in history), ev(0, 1.0, ACTION)], key=lambda e: e.at)
    shuffled = [ev(m, v, p) for m, v, p in journey]
    if converted:
        shuffled.append(ev(max(m for m, _, _ in journey), 1.0, ACTION))
    random.Random(seed).shuffle(shuffled)
    assert_same_scores(fold(before + shuffled), recompute(before + shuffled, H), at(31 * DAY))


@settings(max_examples=200)
@given(stream=streams, seed=st.integers())
def test_engagement_is_exact_in_any_arrival_order(
    stream: list[tuple[int, float, Phase | None]], seed: int
) -> None:
    events = [ev(m, v, p) for m, v, p in stream]
    random.Random(seed).shuffle(events)
    expected = sum(e.value * 2 ** -((NOW - e.at) / H) for e in events)
    assert engagement_score(fold(events), NOW, H) == pytest.approx(expected, rel=1e-9, abs=1e-12)


@settings(max_examples=200)
@given(stream=streams, seed=st.integers())
def test_scores_stay_in_range_in_any_arrival_order(
    stream: list[tuple[int, float, Phase | None]], seed: int
) -> None:
    events = [ev(m, v, p) for m, v, p in stream]
    random.Random(seed).shuffle(events)
    state = fold(events)
    assert engagement_score(state, NOW, H) >= 0.0
    assert 0.0 <= intent_score(state, NOW, H) < 1.0


# -- explanation ------------------------------------------------------------------------------------


def test_explanation_lists_the_heaviest_contributions_first_with_their_decay() -> None:
    events = [
        ev(0, 0.4, INTEREST, "reviews_read"),
        ev(7 * DAY, 0.65, INTENT, "checkout_started"),
        ev(7 * DAY, 0.1),
    ]
    explanation = explain(events, T0 + H, H)
    rows = [(c.name, c.at, c.value, c.decay, c.weight) for c in explanation.engagement]
    assert rows == [
        ("checkout_started", T0 + H, 0.65, 1.0, 0.65),
        ("reviews_read", T0, 0.4, pytest.approx(0.5, rel=REL), pytest.approx(0.2, rel=REL)),
        ("e", T0 + H, 0.1, 1.0, 0.1),
    ]


def test_explanation_of_intent_covers_the_open_journey_only() -> None:
    events = [
        ev(0, 0.65, INTENT, "checkout_started"),
        ev(5, 1.0, ACTION, "order_completed"),
        ev(9, 0.1, DISCOVERY, "product_viewed"),
    ]
    assert [c.name for c in explain(events, at(10), H).intent] == ["product_viewed"]


def test_explanation_of_intent_is_empty_once_the_journey_closed() -> None:
    events = [ev(0, 0.65, INTENT), ev(5, 1.0, ACTION)]
    assert explain(events, at(10), H).intent == ()


def test_explanation_carries_both_scores() -> None:
    events = [ev(0, 0.65, INTENT), ev(7 * DAY, 0.1)]
    explanation = explain(events, T0 + H, H)
    assert [explanation.engagement_score, explanation.intent_score] == pytest.approx(
        [0.425, 1 - math.exp(-0.425)], rel=REL
    )


def test_explanation_is_limited_and_leaves_out_worthless_events() -> None:
    events = [ev(m, 0.1) for m in range(12)] + [ev(20, 0.0, None, "page_viewed")]
    explanation = explain(events, at(30), H, limit=3)
    assert [c.at for c in explanation.engagement] == [at(11), at(10), at(9)]
    assert explanation.engagement_score == pytest.approx(
        sum(0.1 * 2 ** (-(30 - m) / (7 * DAY)) for m in range(12)), rel=REL
    )


@settings(max_examples=100)
@given(stream=streams)
def test_explanation_scores_equal_the_incremental_scores(
    stream: list[tuple[int, float, Phase | None]],
) -> None:
    events = [ev(m, v, p) for m, v, p in stream]
    explanation, state = explain(events, NOW, H), recompute(events, H)
    assert explanation.engagement_score == pytest.approx(engagement_score(state, NOW, H), rel=1e-9, abs=1e-12)
    assert explanation.intent_score == pytest.approx(intent_score(state, NOW, H), rel=1e-9, abs=1e-12)


def test_journeys_split_at_actions_and_idle_gaps_and_leave_out_events_without_a_phase() -> None:
    events = [
        ev(0, 0.1),
        ev(5, 1.0, ACTION),
        ev(5, 0.1),
        ev(5.5, 0.0, None),
        ev(6, 0.1),
        ev(6 + 31 * DAY, 0.1),
    ]
    assert [[e.at for e in j] for j in journeys_of(events)] == [
        [at(0), at(5), at(5)],
        [at(6)],
        [at(6 + 31 * DAY)],
    ]


def test_the_open_journey_is_the_latest_one_while_open() -> None:
    events = [ev(0, 1.0, ACTION), ev(6, 0.1)]
    assert (open_journey(events, at(7)), open_journey(events, at(6) + JOURNEY_IDLE + H)) == ([events[1]], [])
