from datetime import UTC, datetime, timedelta

from server.domain.scoring import ScoreState
from server.domain.taxonomy import Phase
from server.domain.triggers import Trigger, next_best_action

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


def _trigger(action: str, reached: Phase) -> Trigger:
    return Trigger(
        id=action, name=action, action=action, reached=reached, within=timedelta(minutes=30), url=""
    )


def _open(phase: Phase | None, last: datetime = NOW - timedelta(minutes=5)) -> ScoreState:
    return ScoreState(
        journey_started_at=last, journey_last_at=last, journey_phase=phase, journey_closed=False
    )


RULES = [_trigger("show-reviews", Phase.INTEREST), _trigger("offer-help", Phase.INTENT)]


def test_the_most_advanced_reached_trigger_gives_the_action() -> None:
    assert next_best_action(RULES, _open(Phase.INTENT), NOW) == "offer-help"


def test_a_trigger_beyond_the_journeys_phase_does_not_apply() -> None:
    assert next_best_action(RULES, _open(Phase.INTEREST), NOW) == "show-reviews"
    assert next_best_action(RULES, _open(Phase.DISCOVERY), NOW) is None


def test_a_converted_journey_needs_no_action() -> None:
    assert next_best_action(RULES, _open(Phase.ACTION), NOW) is None


def test_a_journey_idle_past_thirty_days_is_over() -> None:
    assert next_best_action(RULES, _open(Phase.INTENT, NOW - timedelta(days=31)), NOW) is None


def test_without_an_open_journey_there_is_no_action() -> None:
    assert next_best_action(RULES, ScoreState(), NOW) is None
