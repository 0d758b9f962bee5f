import itertools
import math
from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain.attribution import (
    NO_TOUCH,
    OTHER,
    Accumulator,
    GroupBy,
    Model,
    Path,
    Report,
    TimelineEvent,
    Touch,
    attribute,
    attribute_all,
    paths_for_profile,
    removal_effects,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)
HEURISTIC = [Model.FIRST_TOUCH, Model.LAST_TOUCH, Model.LINEAR, Model.TIME_DECAY, Model.POSITION_BASED]


def touch(channel: str, day: float = 0, campaign: str | None = None, event: str = "visit") -> Touch:
    return Touch(T0 + day * DAY, channel, campaign, event)


def converted(*channels: str, value: float = 0.0, profile: str = "p", at_day: float = 10) -> Path:
    touches = tuple(touch(c, day=i) for i, c in enumerate(channels))
    return Path(profile, touches, True, T0 + at_day * DAY, value)


def lost(*channels: str, profile: str = "p") -> Path:
    return Path(profile, tuple(touch(c, day=i) for i, c in enumerate(channels)), False, None, 0.0)


def conversions(report: Report) -> dict[str, float]:
    return {r.key: r.conversions for r in report.rows}


def values(report: Report) -> dict[str, float]:
    return {r.key: r.value for r in report.rows}


# --- heuristic models, hand-computed -------------------------------------------------------------


@pytest.mark.parametrize("model", list(Model))
def test_a_single_touch_gets_everything(model: Model) -> None:
    report = attribute(model, [converted("email", value=12.0)])
    assert conversions(report) == pytest.approx({"email": 1.0})
    assert values(report) == pytest.approx({"email": 12.0})
    assert report.rows[0].share == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (Model.FIRST_TOUCH, {"email": 1.0, "sms": 0.0}),
        (Model.LAST_TOUCH, {"email": 0.0, "sms": 1.0}),
        (Model.LINEAR, {"email": 0.5, "sms": 0.5}),
        (Model.POSITION_BASED, {"email": 0.5, "sms": 0.5}),
        (Model.SHAPLEY, {"email": 0.5, "sms": 0.5}),
    ],
)
def test_two_touches(model: Model, expected: dict[str, float]) -> None:
    assert conversions(attribute(model, [converted("email", "sms")])) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (Model.FIRST_TOUCH, {"a": 1.0, "b": 0.0, "c": 0.0, "d": 0.0}),
        (Model.LAST_TOUCH, {"a": 0.0, "b": 0.0, "c": 0.0, "d": 1.0}),
        (Model.LINEAR, {"a": 0.25, "b": 0.25, "c": 0.25, "d": 0.25}),
        (Model.POSITION_BASED, {"a": 0.4, "b": 0.1, "c": 0.1, "d": 0.4}),
    ],
)
def test_four_touches(model: Model, expected: dict[str, float]) -> None:
    assert conversions(attribute(model, [converted("a", "b", "c", "d")])) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (Model.FIRST_TOUCH, {"a": 1.0, "b": 0.0}),
        (Model.LAST_TOUCH, {"a": 1.0, "b": 0.0}),
        (Model.LINEAR, {"a": 2 / 3, "b": 1 / 3}),
        (Model.POSITION_BASED, {"a": 0.8, "b": 0.2}),
        (Model.SHAPLEY, {"a": 0.5, "b": 0.5}),  # distinct keys, so a repeat earns nothing extra
    ],
)
def test_repeated_channels_stay_separate_touches(model: Model, expected: dict[str, float]) -> None:
    assert conversions(attribute(model, [converted("a", "b", "a")])) == pytest.approx(expected)


def test_time_decay_by_hand() -> None:
    # Touches 14 and 7 days before the conversion, half-life 7 days: raw weights 2^-2 = ¼ and 2^-1 = ½,
    # normalised to ⅓ and ⅔; value 30 splits 10 / 20.
    path = Path("p", (touch("a", day=0), touch("b", day=7)), True, T0 + 14 * DAY, 30.0)
    report = attribute(Model.TIME_DECAY, [path], half_life=7 * DAY)
    assert conversions(report) == pytest.approx({"a": 1 / 3, "b": 2 / 3})
    assert values(report) == pytest.approx({"a": 10.0, "b": 20.0})


def test_time_decay_survives_very_old_journeys() -> None:
    path = Path("p", (touch("a", day=0), touch("b", day=1)), True, T0 + 100_000 * DAY, 1.0)
    report = attribute(Model.TIME_DECAY, [path], half_life=timedelta(hours=1))
    assert conversions(report) == pytest.approx({"a": 2**-24 / (1 + 2**-24), "b": 1 / (1 + 2**-24)})


# --- Shapley --------------------------------------------------------------------------------------


def brute_force_shapley(journeys: list[tuple[frozenset[str], float]], players: list[str]) -> dict[str, float]:
    def v(coalition: frozenset[str]) -> float:
        return sum(w for keys, w in journeys if keys <= coalition)

    n = len(players)
    phi = dict.fromkeys(players, 0.0)
    for i in players:
        others = [p for p in players if p != i]
        for size in range(n):
            for s in itertools.combinations(others, size):
                weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
                phi[i] += weight * (v(frozenset(s) | {i}) - v(frozenset(s)))
    return phi


def test_shapley_equals_brute_force_over_all_coalitions_on_four_channels() -> None:
    paths = [
        converted("a", "b", value=10.0),
        converted("a", "b", "c", "a", value=7.0),
        converted("d", value=3.0),
        converted("c", "d", "b", value=5.0),
        converted("b", value=2.0),
        converted("a", "b", "c", "d", value=11.0),
        lost("a", "c"),
    ]
    journeys = [(frozenset(t.channel for t in p.touches), 1.0) for p in paths if p.converted]
    valued = [(frozenset(t.channel for t in p.touches), p.value) for p in paths if p.converted]
    report = attribute(Model.SHAPLEY, paths)
    assert conversions(report) == pytest.approx(brute_force_shapley(journeys, ["a", "b", "c", "d"]))
    assert values(report) == pytest.approx(brute_force_shapley(valued, ["a", "b", "c", "d"]))


def test_untouched_conversions_are_v_of_the_empty_coalition_and_go_to_no_touch() -> None:
    report = attribute(Model.SHAPLEY, [converted("a", "b"), converted(value=4.0)])
    assert conversions(report) == pytest.approx({"a": 0.5, "b": 0.5, NO_TOUCH: 1.0})
    assert values(report) == pytest.approx({"a": 0.0, "b": 0.0, NO_TOUCH: 4.0})


# --- Markov ---------------------------------------------------------------------------------------

# Paths: a→b→conv (value 10), b→conv (20), a→c→null, c→conv (30).
# Transitions: start→a 2/4, start→b 1/4, start→c 1/4; a→b ½, a→c ½; b→conv 1; c→conv ½, c→null ½.
# P(conv) = ½(½·1 + ½·½) + ¼·1 + ¼·½ = 3/8 + 2/8 + 1/8 = 3/4.
# Remove a: ¼ + ⅛ = 3/8        → RE_a = 1 − (3/8)/(3/4) = ½.
# Remove b: ½(½·½) + ¼·½ = ¼   → RE_b = 1 − (1/4)/(3/4) = ⅔.
# Remove c: ½·½ + ¼ = ½        → RE_c = 1 − (1/2)/(3/4) = ⅓.
# ΣRE = 3/2; 3 conversions → a 1, b 4/3, c 2/3; value 60 → a 20, b 80/3, c 40/3.
MARKOV_PATHS = [
    converted("a", "b", value=10.0),
    converted("b", value=20.0),
    lost("a", "c"),
    converted("c", value=30.0),
]


def test_markov_removal_effects_by_hand() -> None:
    report = attribute(Model.MARKOV, MARKOV_PATHS)
    assert {r.key: r.removal_effect for r in report.rows} == pytest.approx({"a": 0.5, "b": 2 / 3, "c": 1 / 3})
    assert conversions(report) == pytest.approx({"a": 1.0, "b": 4 / 3, "c": 2 / 3})
    assert values(report) == pytest.approx({"a": 20.0, "b": 80 / 3, "c": 40 / 3})
    assert [r.key for r in report.rows] == ["b", "a", "c"]


def test_markov_collapses_consecutive_repeats() -> None:
    repeated = [converted("a", "a", "b", "b", value=10.0), *MARKOV_PATHS[1:]]
    assert attribute(Model.MARKOV, repeated) == attribute(Model.MARKOV, MARKOV_PATHS)


def test_markov_untouched_conversions_go_to_no_touch_and_leave_shares_unchanged() -> None:
    report = attribute(Model.MARKOV, [*MARKOV_PATHS, converted(value=40.0)])
    assert conversions(report) == pytest.approx({"a": 1.0, "b": 4 / 3, "c": 2 / 3, NO_TOUCH: 1.0})
    assert values(report) == pytest.approx({"a": 20.0, "b": 80 / 3, "c": 40 / 3, NO_TOUCH: 40.0})
    # start→conv (⅕) joins the chain: start→a ⅖, b ⅕, c ⅕; P = ⅖·¾ + ⅕ + ⅕·½ + ⅕ = ⅘.
    # P_a = ½ → RE_a = ⅜; P_b = ⅖ → RE_b = ½; P_c = ⅗ → RE_c = ¼: same 3 : 4 : 2 ratio as without it.
    effects = {r.key: r.removal_effect for r in report.rows}
    assert effects == pytest.approx({"a": 3 / 8, "b": 1 / 2, "c": 1 / 4, NO_TOUCH: None})


def test_markov_without_touched_conversions_gives_keys_nothing() -> None:
    report = attribute(Model.MARKOV, [lost("a", "b"), converted(value=5.0)])
    assert conversions(report) == {NO_TOUCH: 1.0, "a": 0.0, "b": 0.0}
    assert {r.key: r.removal_effect for r in report.rows} == {NO_TOUCH: None, "a": 0.0, "b": 0.0}
    assert report.total_value == 5.0


def test_markov_credits_a_channel_seen_only_on_non_converting_paths_that_feeds_a_converter() -> None:
    report = attribute(Model.MARKOV, [lost("a", "b"), converted("b")])
    assert report.rows[0].key == "b"
    assert conversions(report)["a"] > 0


def direct_removal(q: np.ndarray, r: np.ndarray, j: int) -> float:
    qk = q.copy()
    qk[:, j] = 0.0
    return float(np.linalg.solve(np.eye(len(r)) - qk, r)[0])


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from("abcd"), min_size=1, max_size=5), min_size=1, max_size=12), st.data()
)
def test_removal_effects_equal_one_solve_per_removed_key(
    journeys: list[list[str]], data: st.DataObject
) -> None:
    from_start: Counter[str] = Counter()
    between: Counter[tuple[str, str]] = Counter()
    to_conv: Counter[str] = Counter()
    to_null: Counter[str] = Counter()
    for keys in journeys:
        states = [k for k, _ in itertools.groupby(keys)]
        from_start[states[0]] += 1
        between.update(itertools.pairwise(states))
        (to_conv if data.draw(st.booleans()) else to_null)[states[-1]] += 1
    effects = removal_effects(from_start, between, to_conv, to_null)
    keys = sorted(effects)
    index = {k: i + 1 for i, k in enumerate(keys)}
    q = np.zeros((len(keys) + 1,) * 2)
    r = np.zeros(len(keys) + 1)
    for k, n in from_start.items():
        q[0, index[k]] = n
    for (a, b), n in between.items():
        q[index[a], index[b]] = n
    for k, n in to_conv.items():
        r[index[k]] = n
    out = q.sum(axis=1) + r + np.array([0, *(to_null[k] for k in keys)])
    q, r = q / out[:, None], r / out
    p = float(np.linalg.solve(np.eye(len(r)) - q, r)[0])
    expected = {k: (1 - direct_removal(q, r, index[k]) / p) if p else 0.0 for k in keys}
    assert effects == pytest.approx(expected, abs=1e-9)


# --- rows, keys, k-anonymity ----------------------------------------------------------------------


@pytest.mark.parametrize("model", list(Model))
def test_untouched_conversions_are_credited_to_no_touch(model: Model) -> None:
    report = attribute(model, [converted("a", value=1.0), converted(value=2.0)])
    assert conversions(report) == pytest.approx({"a": 1.0, NO_TOUCH: 1.0})
    assert report.total_conversions == 2.0
    assert report.total_value == 3.0


def test_group_by_campaign_names_missing_campaigns() -> None:
    path = Path("p", (touch("email", 0, "spring"), touch("sms", 1, None)), True, T0 + 2 * DAY, 8.0)
    report = attribute(Model.LINEAR, [path], group_by=GroupBy.CAMPAIGN)
    assert report.group_by is GroupBy.CAMPAIGN
    assert values(report) == pytest.approx({"spring": 4.0, "(none)": 4.0})


@pytest.mark.parametrize("model", list(Model))
def test_group_by_event_feeds_every_model(model: Model) -> None:
    path = Path(
        "p", (touch("email", 0, event="open"), touch("email", 1, event="open")), True, T0 + 2 * DAY, 1.0
    )
    assert conversions(attribute(model, [path], group_by=GroupBy.EVENT)) == pytest.approx({"open": 1.0})


def test_rows_sorted_by_conversions_then_key_with_shares() -> None:
    report = attribute(Model.LAST_TOUCH, [converted("b"), converted("a"), converted("c"), converted("c")])
    assert [(r.key, r.share) for r in report.rows] == [("c", 0.5), ("a", 0.25), ("b", 0.25)]


def test_rows_below_k_profiles_merge_into_other() -> None:
    paths = [
        converted("a", profile="p1", value=1.0),
        converted("a", profile="p2", value=2.0),
        converted("b", profile="p3", value=4.0),
        converted("c", profile="p4", value=8.0),
        converted("c", profile="p4", value=16.0),  # one profile twice is still one profile
    ]
    report = attribute(Model.LAST_TOUCH, paths, min_profiles=2)
    assert [(r.key, r.conversions, r.value) for r in report.rows] == [(OTHER, 3.0, 28.0), ("a", 2.0, 3.0)]
    assert report.total_value == 31.0


def test_markov_counts_profiles_on_non_converting_paths_too() -> None:
    paths = [converted("a", profile="p1"), lost("a", profile="p2")]
    assert [r.key for r in attribute(Model.MARKOV, paths, min_profiles=2).rows] == ["a"]
    assert [r.key for r in attribute(Model.LINEAR, paths, min_profiles=2).rows] == [OTHER]


def test_no_paths_give_empty_reports() -> None:
    for report in attribute_all([]).values():
        assert (report.total_conversions, report.total_value, report.rows) == (0.0, 0.0, ())


def test_accumulator_streams_and_leaves_the_path_untouched() -> None:
    acc = Accumulator()
    path = converted("a", "b", value=3.0)
    acc.add(path)
    acc.add(lost("b"))
    assert path == converted("a", "b", value=3.0)
    assert conversions(acc.report(Model.FIRST_TOUCH)) == {"a": 1.0, "b": 0.0}


def test_invalid_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="min_profiles"):
        Accumulator(min_profiles=0)
    with pytest.raises(ValueError, match="half_life"):
        Accumulator(half_life=timedelta(0))
    with pytest.raises(ValueError, match=r"Path\.at"):
        Path("p", (), True, None, 1.0)


# --- paths_for_profile ----------------------------------------------------------------------------


def ev(
    day: float, channel: str | None = None, *, conversion: bool = False, value: float = 0.0
) -> TimelineEvent:
    return TimelineEvent(
        T0 + day * DAY, channel, None, "purchase" if conversion else "visit", conversion, value
    )


def channels_of(path: Path) -> list[str]:
    return [t.channel for t in path.touches]


def test_lookback_includes_its_boundary() -> None:
    timeline = [ev(0, "too_old"), ev(1, "boundary"), ev(5, "inside"), ev(31, conversion=True, value=9.0)]
    [path] = paths_for_profile("p", timeline, lookback=30 * DAY)
    assert channels_of(path) == ["boundary", "inside"]
    assert (path.converted, path.at, path.value) == (True, T0 + 31 * DAY, 9.0)


def test_touches_stop_at_the_previous_conversion() -> None:
    timeline = [ev(0, "a"), ev(1, conversion=True), ev(1, "same_instant"), ev(2, "b"), ev(3, conversion=True)]
    first, second = paths_for_profile("p", timeline, lookback=30 * DAY)
    assert channels_of(first) == ["a", "same_instant"]
    assert channels_of(second) == ["b"]


def test_a_second_conversion_at_the_same_instant_has_no_touches() -> None:
    timeline = [ev(0, "a"), ev(1, conversion=True, value=1.0), ev(1, conversion=True, value=2.0)]
    first, second = paths_for_profile("p", timeline, lookback=30 * DAY)
    assert (channels_of(first), channels_of(second), second.value) == (["a"], [], 2.0)


def test_the_conversion_event_is_not_a_touch() -> None:
    [path] = paths_for_profile("p", [ev(0, "a"), ev(1, "email", conversion=True)], lookback=30 * DAY)
    assert channels_of(path) == ["a"]


def test_only_conversions_in_the_window_are_reported_but_all_cut_the_timeline() -> None:
    timeline = [
        ev(0, "a"),
        ev(1, conversion=True),
        ev(2, "b"),
        ev(3, conversion=True),
        ev(9, conversion=True),
    ]
    [path] = paths_for_profile("p", timeline, lookback=30 * DAY, start=T0 + 3 * DAY, end=T0 + 3 * DAY)
    assert (channels_of(path), path.at) == (["b"], T0 + 3 * DAY)


def test_the_non_converting_tail_has_no_lookback_and_needs_its_last_touch_in_the_window() -> None:
    timeline = [ev(0, conversion=True), ev(1, "a"), ev(100, "b")]
    [tail] = paths_for_profile("p", timeline, lookback=30 * DAY, start=T0 + 50 * DAY)
    assert (channels_of(tail), tail.converted, tail.at, tail.value) == (["a", "b"], False, None, 0.0)
    ended_earlier = paths_for_profile("p", timeline, lookback=30 * DAY, end=T0 + 99 * DAY)
    assert [p.converted for p in ended_earlier] == [True]


def test_a_profile_without_conversions_is_one_non_converting_path() -> None:
    [tail] = paths_for_profile("p", [ev(0, "a"), ev(1), ev(2, "b")], lookback=DAY)
    assert (channels_of(tail), tail.converted) == (["a", "b"], False)


def test_unsorted_timelines_are_rejected() -> None:
    with pytest.raises(ValueError, match="sorted"):
        paths_for_profile("p", [ev(1, "a"), ev(0, "b")], lookback=DAY)


# --- every model's rows sum to the totals ---------------------------------------------------------

journey = st.builds(
    lambda keys, gaps, conv, value, profile: Path(
        profile,
        tuple(
            Touch(T0 + sum(gaps[: i + 1], timedelta(0)), k, k if i % 2 else None, f"e{k}")
            for i, k in enumerate(keys)
        ),
        conv or not keys,
        T0 + sum(gaps, timedelta(0)) + DAY if conv or not keys else None,
        value if conv or not keys else 0.0,
    ),
    st.lists(st.sampled_from("abcde"), max_size=6),
    st.lists(st.timedeltas(min_value=timedelta(0), max_value=60 * DAY), min_size=7, max_size=7),
    st.booleans(),
    st.floats(min_value=0, max_value=1e4, allow_nan=False),
    st.sampled_from(["p1", "p2", "p3", "p4"]),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(journey, max_size=25),
    st.sampled_from(list(GroupBy)),
    st.integers(min_value=1, max_value=3),
)
def test_every_model_sums_to_the_totals(paths: list[Path], group_by: GroupBy, k: int) -> None:
    reports = attribute_all(paths, group_by=group_by, min_profiles=k)
    assert set(reports) == set(Model)
    for report in reports.values():
        assert report.total_conversions == sum(p.converted for p in paths)
        assert math.fsum(r.conversions for r in report.rows) == pytest.approx(
            report.total_conversions, abs=1e-6
        )
        assert math.fsum(r.value for r in report.rows) == pytest.approx(report.total_value, abs=1e-6)
        assert all(r.conversions >= 0 for r in report.rows)
