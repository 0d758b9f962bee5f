from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from privacy.purposes import Purpose
from server.domain.audience import (
    MAX_CONDITIONS,
    MAX_DEPTH,
    Audience,
    Facts,
    LtvMeasure,
    daily_sizes,
    describe,
    member,
    membership_as_of,
    needs,
    parse,
    to_data,
)
from server.domain.errors import InvalidInput
from server.domain.taxonomy import Phase

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
EVERYONE = frozenset(Purpose)
FACTS = Facts(
    profile_id="p1",
    granted=EVERYONE,
    phase=Phase.INTENT,
    engagement=2.5,
    intent=0.7,
    conversion_probability=0.4,
    affinities={"shoes": 1.2, "hats": 0.1},
    ltv={LtvMeasure.REVENUE: 120.0, LtvMeasure.ORDERS: 2.0, LtvMeasure.P_ALIVE: 0.9, LtvMeasure.CLV: None},
    last_seen=NOW - timedelta(days=3),
    traits={"plan": "gold", "tier": 2},
    event_times={"product_viewed": [NOW - timedelta(days=d) for d in (1, 2, 10)]},
)


def _member(rule: dict[str, Any], facts: Facts = FACTS, purpose: Purpose | None = None) -> bool:
    return member(Audience("a", "x", parse(rule), purpose), facts, NOW)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"phase": ["INTENT"]}, True),
        ({"phase": ["DISCOVERY", "ACTION"]}, False),
        ({"engagement": {"min": 2}}, True),
        ({"engagement": {"min": 3}}, False),
        ({"intent": {"min": 0.6, "max": 0.8}}, True),
        ({"intent": {"max": 0.5}}, False),
        ({"conversionProbability": {"min": 0.3}}, True),
        ({"conversionProbability": {"min": 0.5}}, False),
        ({"affinity": {"key": "shoes", "minWeight": 1.0}}, True),
        ({"affinity": {"key": "hats", "minWeight": 1.0}}, False),
        ({"affinity": {"key": "bags", "minWeight": 0}}, False),
        ({"ltv": {"measure": "REVENUE", "min": 100}}, True),
        ({"ltv": {"measure": "ORDERS", "min": 3}}, False),
        ({"ltv": {"measure": "P_ALIVE", "min": 0.5}}, True),
        ({"ltv": {"measure": "CLV", "min": 0}}, False),  # no model: no value satisfies a range
        ({"consent": "MARKETING_EMAIL"}, True),
        ({"lastSeenWithinDays": 7}, True),
        ({"lastSeenWithinDays": 2}, False),
        ({"didEvent": {"event": "product_viewed", "atLeast": 2, "withinDays": 7}}, True),
        ({"didEvent": {"event": "product_viewed", "atLeast": 3, "withinDays": 7}}, False),
        ({"didEvent": {"event": "product_viewed", "atLeast": 3, "withinDays": 30}}, True),
        ({"trait": {"name": "plan", "value": "gold"}}, True),
        ({"trait": {"name": "tier", "value": "2"}}, False),
        ({"all": [{"phase": ["INTENT"]}, {"intent": {"min": 0.5}}]}, True),
        ({"all": [{"phase": ["INTENT"]}, {"intent": {"min": 0.9}}]}, False),
        ({"any": [{"phase": ["ACTION"]}, {"intent": {"min": 0.5}}]}, True),
        ({"not": {"phase": ["INTENT"]}}, False),
        ({"not": {"ltv": {"measure": "CLV", "min": 0}}}, True),
    ],
)
def test_each_condition_kind_matches_as_its_rule_says(rule: dict[str, Any], expected: bool) -> None:
    assert _member(rule) is expected


def test_a_profile_without_personalization_is_in_no_audience() -> None:
    facts = Facts(profile_id="p1", granted=EVERYONE - {Purpose.PERSONALIZATION}, phase=Phase.INTENT)
    assert _member({"phase": ["INTENT"]}, facts) is False


def test_an_audience_with_a_purpose_needs_that_purpose_granted_too() -> None:
    facts = Facts(profile_id="p1", granted=frozenset({Purpose.PERSONALIZATION}), phase=Phase.INTENT)
    assert _member({"phase": ["INTENT"]}, facts, Purpose.MARKETING_EMAIL) is False
    assert _member({"phase": ["INTENT"]}, facts) is True


def test_a_consent_condition_reads_the_granted_purposes() -> None:
    facts = Facts(profile_id="p1", granted=frozenset({Purpose.PERSONALIZATION}))
    assert _member({"consent": "ADVERTISING"}, facts) is False


def test_time_windows_are_read_at_the_moment_given() -> None:
    audience = Audience("a", "x", parse({"lastSeenWithinDays": 5}))
    assert member(audience, FACTS, NOW) is True
    assert member(audience, FACTS, NOW + timedelta(days=3)) is False


@pytest.mark.parametrize(
    ("rule", "field", "code"),
    [
        ({}, "rule", "ONE_CONDITION"),
        ({"phase": ["INTENT"], "intent": {"min": 0.1}}, "rule", "ONE_CONDITION"),
        ({"colour": "red"}, "rule.colour", "INVALID_RULE"),
        ({"all": []}, "rule.all", "INVALID_RULE"),
        ({"all": [{"phase": ["NOPE"]}]}, "rule.all[0].phase", "INVALID_PHASE"),
        ({"intent": {}}, "rule.intent", "EMPTY_RANGE"),
        ({"intent": {"min": 0.8, "max": 0.2}}, "rule.intent", "EMPTY_RANGE"),
        ({"intent": {"min": 2}}, "rule.intent.min", "OUT_OF_RANGE"),
        ({"engagement": {"min": float("nan")}}, "rule.engagement.min", "INVALID_NUMBER"),
        ({"affinity": {"key": "", "minWeight": 1}}, "rule.affinity.key", "INVALID_NAME"),
        ({"affinity": {"key": "shoes"}}, "rule.affinity.minWeight", "INVALID_NUMBER"),
        ({"ltv": {"measure": "WEALTH", "min": 1}}, "rule.ltv.measure", "INVALID_RULE"),
        ({"ltv": {"measure": "P_ALIVE", "min": 1.5}}, "rule.ltv.min", "OUT_OF_RANGE"),
        ({"consent": "GOSSIP"}, "rule.consent", "INVALID_PURPOSE"),
        ({"lastSeenWithinDays": 0}, "rule.lastSeenWithinDays", "OUT_OF_RANGE"),
        ({"didEvent": {"event": "x", "withinDays": 99999}}, "rule.didEvent.withinDays", "OUT_OF_RANGE"),
        (
            {"didEvent": {"event": "x", "atLeast": 0, "withinDays": 1}},
            "rule.didEvent.atLeast",
            "OUT_OF_RANGE",
        ),
        ({"trait": {"name": "plan"}}, "rule.trait", "INVALID_RULE"),
        ({"trait": {"name": "plan", "value": "x" * 300}}, "rule.trait.value", "VALUE_TOO_LARGE"),
    ],
)
def test_a_bad_rule_is_refused_with_a_code_naming_the_field(
    rule: dict[str, Any], field: str, code: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse(rule)
    assert (refused.value.field, refused.value.code) == (field, code)


def test_a_personal_trait_cannot_define_an_audience() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse({"trait": {"name": "email", "value": "x"}}, is_personal=lambda name: name == "email")
    assert (refused.value.field, refused.value.code) == ("rule.trait.name", "PERSONAL_TRAIT")


def test_rules_nest_at_most_max_depth() -> None:
    rule: dict[str, Any] = {"phase": ["INTENT"]}
    for _ in range(MAX_DEPTH - 1):
        rule = {"not": rule}
    parse(rule)
    with pytest.raises(InvalidInput) as refused:
        parse({"not": rule})
    assert refused.value.code == "RULE_TOO_DEEP"


def test_a_rule_has_at_most_max_conditions() -> None:
    parse({"any": [{"phase": ["INTENT"]}] * (MAX_CONDITIONS - 1)})
    with pytest.raises(InvalidInput) as refused:
        parse({"any": [{"phase": ["INTENT"]}] * MAX_CONDITIONS})
    assert (refused.value.code, refused.value.field) == ("RULE_TOO_LARGE", f"rule.any[{MAX_CONDITIONS - 1}]")


def test_a_rule_reads_back_from_its_data_unchanged() -> None:
    rule = parse(
        {
            "all": [
                {"phase": ["INTENT", "INTEREST"]},
                {"affinity": {"key": "shoes", "minWeight": 0.5}},
                {"not": {"ltv": {"measure": "ORDERS", "min": 1}}},
                {"didEvent": {"event": "product_viewed", "withinDays": 7}},
                {"trait": {"name": "plan", "value": "gold"}},
            ]
        }
    )
    assert parse(to_data(rule)) == rule
    assert to_data(rule)["all"][0] == {"phase": ["INTEREST", "INTENT"]}


def test_the_definition_reads_in_plain_words() -> None:
    rule = parse({"all": [{"phase": ["INTENT"]}, {"affinity": {"key": "shoes", "minWeight": 0.5}}]})
    assert describe(rule) == "(phase is INTENT and affinity for shoes at least 0.5)"


def test_needs_names_the_extra_reads_of_the_rules() -> None:
    found = needs(
        [
            parse({"didEvent": {"event": "a", "withinDays": 3}}),
            parse(
                {
                    "any": [
                        {"didEvent": {"event": "a", "withinDays": 9}},
                        {"ltv": {"measure": "CLV", "min": 1}},
                    ]
                }
            ),
        ]
    )
    assert (dict(found.events), found.ltv, found.conversion_probability) == ({"a": 9}, True, False)


def test_daily_sizes_are_the_running_sum_of_entries_and_exits() -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    changes = [
        (start + timedelta(hours=1), 1),
        (start + timedelta(hours=2), 1),
        (start + timedelta(days=1, hours=3), -1),
    ]
    assert [size for _, size in daily_sizes(changes, start, 3)] == [2, 1, 1]


def test_a_report_ending_in_the_past_takes_the_members_of_its_end() -> None:
    now = datetime(2026, 12, 3, tzinfo=UTC)
    assert membership_as_of(now - timedelta(days=1), now) == now - timedelta(days=1)


def test_a_report_without_an_end_or_ending_now_or_later_takes_the_current_members() -> None:
    now = datetime(2026, 12, 3, tzinfo=UTC)
    assert [membership_as_of(end, now) for end in (None, now, now + timedelta(days=1))] == [None, None, None]
