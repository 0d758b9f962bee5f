"""Audiences: typed rules over a profile's facts, and who is a member.

A rule is a tree: `all` / `any` / `not` over conditions (phase, score ranges, affinity, LTV ranges,
consent, recency, event counts, non-personal trait equality). It arrives as plain data (the GraphQL
input, or the stored document: the same shape), is checked once by `parse` — every refusal names the
field by its path and carries a code — and is evaluated by `matches` against `Facts` at a given
moment. Membership = personalization granted, the audience's own purpose granted (if it has one), and
the rule matching.
"""

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from privacy.consent import ConsentState, is_granted
from privacy.purposes import ConsentMode, Purpose
from server.domain.errors import InvalidInput
from server.domain.profile import Profile
from server.domain.scoring import engagement_score, intent_score, value_at
from server.domain.taxonomy import Phase
from server.domain.workspace import WorkspaceSettings

MAX_AUDIENCES = 100  # per workspace
MAX_DEPTH = 6  # nesting of all/any/not
MAX_CONDITIONS = 50  # nodes of one rule, combinators included
MAX_DAYS = 3650
MAX_COUNT = 100_000
MAX_NAME = 100
MAX_TRAIT_VALUE = 256  # JSON characters of a trait condition's value
AUDIENCE_PURPOSES = (Purpose.MARKETING_EMAIL, Purpose.MARKETING_SMS, Purpose.ADVERTISING)


class Score(StrEnum):
    ENGAGEMENT = "engagement"
    INTENT = "intent"
    CONVERSION_PROBABILITY = "conversionProbability"


class LtvMeasure(StrEnum):
    REVENUE = "REVENUE"
    ORDERS = "ORDERS"
    P_ALIVE = "P_ALIVE"
    CLV = "CLV"


@dataclass(frozen=True)
class Range:
    min: float | None
    max: float | None

    def holds(self, value: float | None) -> bool:
        """min ≤ value ≤ max (either bound optional); never for a value that is absent."""
        if value is None:
            return False
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


@dataclass(frozen=True)
class PhaseIn:
    phases: frozenset[Phase]


@dataclass(frozen=True)
class ScoreIn:
    score: Score
    range: Range


@dataclass(frozen=True)
class AffinityAtLeast:
    key: str
    min_weight: float


@dataclass(frozen=True)
class LtvIn:
    measure: LtvMeasure
    range: Range


@dataclass(frozen=True)
class ConsentGiven:
    purpose: Purpose


@dataclass(frozen=True)
class SeenWithin:
    days: int


@dataclass(frozen=True)
class DidEvent:
    event: str
    at_least: int
    within_days: int


@dataclass(frozen=True)
class TraitEquals:
    name: str
    value: Any


@dataclass(frozen=True)
class All:
    rules: tuple["Rule", ...]


@dataclass(frozen=True)
class AnyOf:
    rules: tuple["Rule", ...]


@dataclass(frozen=True)
class Not:
    rule: "Rule"


Rule = (
    PhaseIn
    | ScoreIn
    | AffinityAtLeast
    | LtvIn
    | ConsentGiven
    | SeenWithin
    | DidEvent
    | TraitEquals
    | All
    | AnyOf
    | Not
)


@dataclass(frozen=True)
class Audience:
    id: str
    name: str
    rule: Rule
    purpose: Purpose | None = None  # a marketing purpose members must also have granted
    webhook_url: str | None = None  # told of each entry and exit (signed, retried: see triggers)


@dataclass(frozen=True)
class StoredAudience:
    audience: Audience
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class MembershipChange:
    """A profile entering (or leaving) an audience, as recorded."""

    audience_id: str
    profile_id: str
    entered: bool
    at: datetime


def membership_as_of(end: datetime | None, now: datetime) -> datetime | None:
    """When a report restricted to an audience takes its members: at the report's end when that is
    past (from the recorded entries and exits); None, its current members, otherwise."""
    return end if end is not None and end < now else None


@dataclass(frozen=True)
class Facts:
    """What rules read about one profile at one moment (scores already decayed to that moment)."""

    profile_id: str
    granted: frozenset[Purpose]  # purposes in effect (the workspace's consent mode applied)
    phase: Phase | None = None
    engagement: float = 0.0
    intent: float = 0.0
    conversion_probability: float | None = None
    affinities: Mapping[str, float] = field(default_factory=dict)
    ltv: Mapping[LtvMeasure, float | None] = field(default_factory=dict)
    last_seen: datetime | None = None
    traits: Mapping[str, Any] = field(default_factory=dict)
    event_times: Mapping[str, Sequence[datetime]] = field(default_factory=dict)


@dataclass(frozen=True)
class Needs:
    """The facts a set of rules reads beyond the profile document: each costs one query per batch."""

    events: Mapping[str, int] = field(default_factory=dict)  # event name -> longest window (days)
    conversion_probability: bool = False
    ltv: bool = False


# Parsing


def _refuse(path: str, message: str, code: str) -> InvalidInput:
    return InvalidInput(f"`{path}`: {message}", field=path, code=code)


_CONDITIONS = (
    "all",
    "any",
    "not",
    "phase",
    "engagement",
    "intent",
    "conversionProbability",
    "affinity",
    "ltv",
    "consent",
    "lastSeenWithinDays",
    "didEvent",
    "trait",
)


def _number(data: Mapping[str, Any], key: str, path: str, low: float, high: float) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _refuse(f"{path}.{key}", "must be a finite number.", "INVALID_NUMBER")
    if not low <= value <= high:
        raise _refuse(f"{path}.{key}", f"must be between {low:g} and {high:g}.", "OUT_OF_RANGE")
    return float(value)


def _range(data: Any, path: str, low: float, high: float) -> Range:
    if not isinstance(data, Mapping):
        raise _refuse(path, "must be an object with `min` and/or `max`.", "INVALID_RULE")
    found = Range(_number(data, "min", path, low, high), _number(data, "max", path, low, high))
    if found.min is None and found.max is None:
        raise _refuse(path, "give `min`, `max` or both.", "EMPTY_RANGE")
    if found.min is not None and found.max is not None and found.min > found.max:
        raise _refuse(path, "`min` must not exceed `max`.", "EMPTY_RANGE")
    return found


def _count(data: Mapping[str, Any], key: str, path: str, high: int, default: int | None = None) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _refuse(f"{path}.{key}", "must be a whole number.", "INVALID_NUMBER")
    if not 1 <= value <= high:
        raise _refuse(f"{path}.{key}", f"must be between 1 and {high}.", "OUT_OF_RANGE")
    return value


def _text(data: Mapping[str, Any], key: str, path: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise _refuse(f"{path}.{key}", f"must be 1 to {MAX_NAME} characters.", "INVALID_NAME")
    return value


class _Budget:
    def __init__(self) -> None:
        self.nodes = 0


def parse(data: Any, *, path: str = "rule", is_personal: Callable[[str], bool] | None = None) -> Rule:
    """The rule in `data` (the input's shape), checked: exactly one condition per node, ranges
    non-empty and within bounds, depth ≤ MAX_DEPTH, nodes ≤ MAX_CONDITIONS, no personal trait.
    `is_personal(name)` says whether a trait name is personal data (such traits cannot be matched)."""
    return _parse(data, path, 1, _Budget(), is_personal or (lambda name: False))


def _parse(data: Any, path: str, depth: int, budget: _Budget, is_personal: Callable[[str], bool]) -> Rule:
    if depth > MAX_DEPTH:
        raise _refuse(path, f"rules nest at most {MAX_DEPTH} deep.", "RULE_TOO_DEEP")
    budget.nodes += 1
    if budget.nodes > MAX_CONDITIONS:
        raise _refuse(path, f"a rule has at most {MAX_CONDITIONS} conditions.", "RULE_TOO_LARGE")
    if not isinstance(data, Mapping):
        raise _refuse(path, "must be an object with one condition.", "INVALID_RULE")
    given = [key for key in _CONDITIONS if data.get(key) is not None]
    unknown = sorted(set(data) - set(_CONDITIONS))
    if unknown:
        raise _refuse(f"{path}.{unknown[0]}", "is not a condition.", "INVALID_RULE")
    if len(given) != 1:
        raise _refuse(
            path, "give exactly one condition per rule (combine with `all`/`any`).", "ONE_CONDITION"
        )
    key = given[0]
    value = data[key]
    here = f"{path}.{key}"
    if key in ("all", "any"):
        if not isinstance(value, Sequence) or isinstance(value, str) or not value:
            raise _refuse(here, "must list at least one rule.", "INVALID_RULE")
        rules = tuple(_parse(r, f"{here}[{i}]", depth + 1, budget, is_personal) for i, r in enumerate(value))
        return All(rules) if key == "all" else AnyOf(rules)
    if key == "not":
        return Not(_parse(value, here, depth + 1, budget, is_personal))
    if key == "phase":
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, Sequence) or not names or any(n not in Phase.__members__ for n in names):
            raise _refuse(here, "must list phases (DISCOVERY, INTEREST, INTENT, ACTION).", "INVALID_PHASE")
        return PhaseIn(frozenset(Phase[n] for n in names))
    if key in ("engagement", "intent", "conversionProbability"):
        high = 1e9 if key == "engagement" else 1.0
        return ScoreIn(Score(key), _range(value, here, 0.0, high))
    if key == "affinity":
        if not isinstance(value, Mapping):
            raise _refuse(here, "must be an object with `key` and `minWeight`.", "INVALID_RULE")
        weight = _number(value, "minWeight", here, 0.0, 1e9)
        if weight is None:
            raise _refuse(f"{here}.minWeight", "is required.", "INVALID_NUMBER")
        return AffinityAtLeast(_text(value, "key", here), weight)
    if key == "ltv":
        if not isinstance(value, Mapping) or value.get("measure") not in LtvMeasure.__members__:
            raise _refuse(f"{here}.measure", "must be REVENUE, ORDERS, P_ALIVE or CLV.", "INVALID_RULE")
        measure = LtvMeasure(value["measure"])
        bounds = {k: v for k, v in value.items() if k in ("min", "max")}
        high = 1.0 if measure is LtvMeasure.P_ALIVE else 1e12
        return LtvIn(measure, _range(bounds, here, -1e12 if measure is LtvMeasure.REVENUE else 0.0, high))
    if key == "consent":
        if value not in {p.name for p in Purpose}:
            raise _refuse(here, "must be a purpose.", "INVALID_PURPOSE")
        return ConsentGiven(Purpose[value])
    if key == "lastSeenWithinDays":
        return SeenWithin(_count(data, key, path, MAX_DAYS))
    if key == "didEvent":
        if not isinstance(value, Mapping):
            raise _refuse(here, "must be an object with `event` and `withinDays`.", "INVALID_RULE")
        return DidEvent(
            _text(value, "event", here),
            _count(value, "atLeast", here, MAX_COUNT, default=1),
            _count(value, "withinDays", here, MAX_DAYS),
        )
    if not isinstance(value, Mapping) or "value" not in value:
        raise _refuse(here, "must be an object with `name` and `value`.", "INVALID_RULE")
    name = _text(value, "name", here)
    if is_personal(name):
        raise _refuse(f"{here}.name", "personal traits cannot define an audience.", "PERSONAL_TRAIT")
    if len(json.dumps(value["value"], default=str)) > MAX_TRAIT_VALUE:
        raise _refuse(f"{here}.value", f"at most {MAX_TRAIT_VALUE} characters of JSON.", "VALUE_TOO_LARGE")
    return TraitEquals(name, value["value"])


def to_data(rule: Rule) -> dict[str, Any]:
    """The rule in the input's shape (what `parse` reads back): stored, and shown to callers."""
    match rule:
        case All(rules):
            return {"all": [to_data(r) for r in rules]}
        case AnyOf(rules):
            return {"any": [to_data(r) for r in rules]}
        case Not(inner):
            return {"not": to_data(inner)}
        case PhaseIn(phases):
            return {"phase": sorted((p.name for p in phases), key=lambda n: Phase[n])}
        case ScoreIn(score, bounds):
            return {score.value: _bounds(bounds)}
        case AffinityAtLeast(key, weight):
            return {"affinity": {"key": key, "minWeight": weight}}
        case LtvIn(measure, bounds):
            return {"ltv": {"measure": measure.value, **_bounds(bounds)}}
        case ConsentGiven(purpose):
            return {"consent": purpose.name}
        case SeenWithin(days):
            return {"lastSeenWithinDays": days}
        case DidEvent(event, at_least, within):
            return {"didEvent": {"event": event, "atLeast": at_least, "withinDays": within}}
        case TraitEquals(name, value):
            return {"trait": {"name": name, "value": value}}


def _bounds(bounds: Range) -> dict[str, float]:
    return {k: v for k, v in (("min", bounds.min), ("max", bounds.max)) if v is not None}


def describe(rule: Rule) -> str:
    """The rule in plain words (for lists and the dashboard)."""
    match rule:
        case All(rules):
            return (
                "(" + " and ".join(describe(r) for r in rules) + ")" if len(rules) > 1 else describe(rules[0])
            )
        case AnyOf(rules):
            return (
                "(" + " or ".join(describe(r) for r in rules) + ")" if len(rules) > 1 else describe(rules[0])
            )
        case Not(inner):
            return f"not {describe(inner)}"
        case PhaseIn(phases):
            return "phase is " + " or ".join(sorted((p.name for p in phases), key=lambda n: Phase[n]))
        case ScoreIn(score, bounds):
            return f"{score.value} {_words(bounds)}"
        case AffinityAtLeast(key, weight):
            return f"affinity for {key} at least {weight:g}"
        case LtvIn(measure, bounds):
            return f"LTV {measure.value.lower().replace('_', ' ')} {_words(bounds)}"
        case ConsentGiven(purpose):
            return f"granted {purpose.value}"
        case SeenWithin(days):
            return f"seen within the last {days} days"
        case DidEvent(event, at_least, within):
            return f"did {event} at least {at_least} times within the last {within} days"
        case TraitEquals(name, value):
            return f"trait {name} is {json.dumps(value, default=str)}"


def _words(bounds: Range) -> str:
    if bounds.min is not None and bounds.max is not None:
        return f"between {bounds.min:g} and {bounds.max:g}"
    if bounds.min is not None:
        return f"at least {bounds.min:g}"
    return f"at most {bounds.max:g}"


# Evaluation


def needs(rules: Sequence[Rule]) -> Needs:
    """What evaluating these rules reads beyond the profile document."""
    events: dict[str, int] = {}
    conversion = ltv = False
    stack = list(rules)
    while stack:
        rule = stack.pop()
        match rule:
            case All(inner) | AnyOf(inner):
                stack.extend(inner)
            case Not(inner):
                stack.append(inner)
            case DidEvent(event, _, within):
                events[event] = max(events.get(event, 0), within)
            case ScoreIn(Score.CONVERSION_PROBABILITY, _):
                conversion = True
            case LtvIn():
                ltv = True
    return Needs(events, conversion, ltv)


def matches(rule: Rule, facts: Facts, now: datetime) -> bool:
    """Whether the facts satisfy the rule at `now`. Absent facts (no conversion model, no LTV fit,
    never seen) satisfy no range, so `not` of such a condition holds."""
    match rule:
        case All(rules):
            return all(matches(r, facts, now) for r in rules)
        case AnyOf(rules):
            return any(matches(r, facts, now) for r in rules)
        case Not(inner):
            return not matches(inner, facts, now)
        case PhaseIn(phases):
            return facts.phase in phases
        case ScoreIn(score, bounds):
            value = {
                Score.ENGAGEMENT: facts.engagement,
                Score.INTENT: facts.intent,
                Score.CONVERSION_PROBABILITY: facts.conversion_probability,
            }[score]
            return bounds.holds(value)
        case AffinityAtLeast(key, weight):
            return key in facts.affinities and facts.affinities[key] >= weight
        case LtvIn(measure, bounds):
            return bounds.holds(facts.ltv.get(measure))
        case ConsentGiven(purpose):
            return purpose in facts.granted
        case SeenWithin(days):
            return facts.last_seen is not None and now - facts.last_seen <= timedelta(days=days)
        case DidEvent(event, at_least, within):
            since = now - timedelta(days=within)
            return sum(1 for at in facts.event_times.get(event, ()) if since <= at <= now) >= at_least
        case TraitEquals(name, value):
            return name in facts.traits and facts.traits[name] == value


def member(audience: Audience, facts: Facts, now: datetime) -> bool:
    """Personalization granted, the audience's purpose granted (if any), and the rule matching."""
    if Purpose.PERSONALIZATION not in facts.granted:
        return False
    if audience.purpose is not None and audience.purpose not in facts.granted:
        return False
    return matches(audience.rule, facts, now)


def facts_of(
    profile: Profile,
    workspace: WorkspaceSettings,
    now: datetime,
    *,
    conversion_probability: float | None = None,
    ltv: Mapping[LtvMeasure, float | None] | None = None,
    event_times: Mapping[str, Sequence[datetime]] | None = None,
) -> Facts:
    """The profile's facts at `now`: scores decayed with the workspace's half-life, consent resolved
    under its mode, plus what was read apart (conversion probability, LTV, event times)."""
    half_life = workspace.half_life
    return Facts(
        profile_id=profile.id,
        granted=granted(profile.consent, workspace.consent_mode),
        phase=profile.scores.journey_phase,
        engagement=engagement_score(profile.scores, now, half_life),
        intent=intent_score(profile.scores, now, half_life),
        conversion_probability=conversion_probability,
        affinities={key: value_at(s, now, half_life) for key, s in profile.affinities.items()},
        ltv=ltv or {},
        last_seen=profile.scores.last_seen,
        traits={name: trait.value for name, trait in profile.traits.items()},
        event_times=event_times or {},
    )


def granted(consent: ConsentState, mode: ConsentMode) -> frozenset[Purpose]:
    """The purposes in effect for a profile under the workspace's consent mode."""
    return frozenset(p for p in Purpose if is_granted(consent, p, mode))


def daily_sizes(
    changes: Sequence[tuple[datetime, int]], start: datetime, days: int
) -> list[tuple[datetime, int]]:
    """The size at the end of each of `days` days from `start`: a running sum of +1 (entry) / −1
    (exit) changes, sorted by time."""
    ordered = sorted(changes)
    sizes, size, i = [], 0, 0
    for day in range(days):
        end = start + timedelta(days=day + 1)
        while i < len(ordered) and ordered[i][0] < end:
            size += ordered[i][1]
            i += 1
        sizes.append((start + timedelta(days=day), size))
    return sizes
