"""Attribution (DESIGN §7): which touches get credit for conversions, under seven models.

Paths. A profile's timeline is cut at its conversions. A conversion at t_c gets the touches t with
t_prev < t ≤ t_c and t ≥ t_c − lookback (both ends inclusive; t_prev is the previous conversion's
time, −∞ if none). The rule uses timestamps only, so ties never depend on the order given: a touch
at exactly t_c counts even when listed after the conversion, and a second conversion at the same
instant gets no touches. A conversion event is never a touch. Conversions are reported when
t_c ∈ [start, end]; those outside still cut the timeline. The touches after the last conversion
(all of them, with no lookback) form one non-converting path when the last of them lies in
[start, end]; only MARKOV uses it.

Credit. Every model credits the touched conversions to keys (channel, campaign or event name) and
gives conversions without touches to the row `(no touch)`, so rows always sum to the totals. Rows
list every key seen in the paths the model reads (converting paths; MARKOV also non-converting), so
a key may show 0 conversions. MARKOV builds its chain from all paths (an untouched conversion is the
transition start → conversion) and splits the touched conversions and value by RE_k / ΣRE; when
ΣRE = 0 (no touched conversion) every key row gets 0. k-anonymity: rows describing fewer than
`min_profiles` distinct profiles merge into `(other)`, which may itself describe fewer than k
profiles and has no removal effect. Labels in `RESERVED_KEYS` are not escaped: a real campaign
named `(none)` shares that row.
"""

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import numpy as np

NO_CAMPAIGN = "(none)"
NO_TOUCH = "(no touch)"
OTHER = "(other)"
RESERVED_KEYS = frozenset({NO_CAMPAIGN, NO_TOUCH, OTHER})


class Model(StrEnum):
    FIRST_TOUCH = "FIRST_TOUCH"
    LAST_TOUCH = "LAST_TOUCH"
    LINEAR = "LINEAR"
    TIME_DECAY = "TIME_DECAY"
    POSITION_BASED = "POSITION_BASED"
    MARKOV = "MARKOV"
    SHAPLEY = "SHAPLEY"


class GroupBy(StrEnum):
    CHANNEL = "CHANNEL"
    CAMPAIGN = "CAMPAIGN"
    EVENT = "EVENT"


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    channel: str | None  # None: not a touch
    campaign: str | None
    event: str
    conversion: bool
    value: float  # revenue, else value, else 0; read only for conversions


@dataclass(frozen=True)
class Touch:
    at: datetime
    channel: str
    campaign: str | None
    event: str


@dataclass(frozen=True)
class Path:
    profile_id: str
    touches: tuple[Touch, ...]
    converted: bool
    at: datetime | None  # the conversion's time; None exactly when not converted
    value: float

    def __post_init__(self) -> None:
        if self.converted != (self.at is not None):
            raise ValueError("Path.at must be set exactly when the path converted")
        if not math.isfinite(self.value):
            raise ValueError("Path.value must be finite")


@dataclass(frozen=True)
class Row:
    key: str
    conversions: float
    value: float
    share: float
    removal_effect: float | None  # MARKOV only


@dataclass(frozen=True)
class Report:
    model: Model
    group_by: GroupBy
    total_conversions: float
    total_value: float
    rows: tuple[Row, ...]


def _within(at: datetime, start: datetime | None, end: datetime | None) -> bool:
    return (start is None or start <= at) and (end is None or at <= end)


def paths_for_profile(
    profile_id: str,
    timeline: Sequence[TimelineEvent],
    *,
    lookback: timedelta,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Path]:
    """Conversions in [start, end] with touches t_prev < t ≤ t_c, t ≥ t_c − lookback; then the open tail."""
    if lookback < timedelta(0):
        raise ValueError("lookback must not be negative")
    if any(b.at < a.at for a, b in itertools.pairwise(timeline)):
        raise ValueError("timeline must be sorted by time")
    paths: list[Path] = []
    pending: list[Touch] = []
    for at, group in itertools.groupby(timeline, key=lambda e: e.at):
        events = list(group)
        pending.extend(
            Touch(e.at, e.channel, e.campaign, e.event)
            for e in events
            if e.channel is not None and not e.conversion
        )
        conversions = [e for e in events if e.conversion]
        if not conversions:
            continue
        touches = tuple(t for t in pending if t.at >= at - lookback)
        if _within(at, start, end):
            paths.extend(
                Path(profile_id, touches if i == 0 else (), True, at, c.value)
                for i, c in enumerate(conversions)
            )
        pending = []
    if pending and _within(pending[-1].at, start, end):
        paths.append(Path(profile_id, tuple(pending), False, None, 0.0))
    return paths


def key_of(touch: Touch, group_by: GroupBy) -> str:
    """channel | campaign (None → `(none)`) | event name."""
    if group_by == GroupBy.CHANNEL:
        return touch.channel
    if group_by == GroupBy.CAMPAIGN:
        return NO_CAMPAIGN if touch.campaign is None else touch.campaign
    return touch.event


def position_weights(n: int) -> list[float]:
    """n=1: [1]; n=2: [½, ½]; n≥3: 0.4 first, 0.4 last, 0.2/(n−2) each middle."""
    if n <= 2:
        return [1.0 / n] * n
    return [0.4, *([0.2 / (n - 2)] * (n - 2)), 0.4]


def time_decay_weights(touches: Sequence[Touch], at: datetime, half_life: timedelta) -> list[float]:
    """w_i = 2^(−(t_conv − t_i)/H) / Σ_j 2^(−(t_conv − t_j)/H)."""
    ages = [(at - t.at) / half_life for t in touches]
    # Measured from the youngest touch, so a journey older than ~1000 half-lives cannot underflow to 0/0.
    youngest = min(ages)
    raw = [2.0 ** (youngest - age) for age in ages]
    total = math.fsum(raw)
    return [w / total for w in raw]


def _weights(model: Model, path: Path, at: datetime, half_life: timedelta) -> list[float]:
    n = len(path.touches)
    if model == Model.FIRST_TOUCH:
        return [1.0] + [0.0] * (n - 1)
    if model == Model.LAST_TOUCH:
        return [0.0] * (n - 1) + [1.0]
    if model == Model.LINEAR:
        return [1.0 / n] * n
    if model == Model.POSITION_BASED:
        return position_weights(n)
    return time_decay_weights(path.touches, at, half_life)


_PER_TOUCH = (Model.FIRST_TOUCH, Model.LAST_TOUCH, Model.LINEAR, Model.TIME_DECAY, Model.POSITION_BASED)


def removal_effects(
    from_start: Counter[str],
    between: Counter[tuple[str, str]],
    to_conversion: Counter[str],
    to_null: Counter[str],
    direct: int = 0,
) -> dict[str, float]:
    """RE_k = 1 − P_k(conv)/P(conv), P from transition counts by solving (I − Q)x = r; 0 when P(conv) = 0."""
    keys = sorted(set(from_start) | {b for _, b in between} | set(to_conversion) | set(to_null))
    index = {k: i + 1 for i, k in enumerate(keys)}  # state 0 is start
    size = len(keys) + 1
    q = np.zeros((size, size))
    r = np.zeros(size)
    for k, n in from_start.items():
        q[0, index[k]] = n
    for (a, b), n in between.items():
        q[index[a], index[b]] = n
    for k, n in to_conversion.items():
        r[index[k]] = n
    r[0] = direct
    out = q.sum(axis=1) + r + np.array([0, *(to_null[k] for k in keys)], dtype=float)
    if not np.all(out > 0):
        raise ValueError("start and every key need at least one outgoing transition")
    q /= out[:, None]
    r /= out
    # One solve for r and every column of Q: removing k replaces column k of Q by 0, a rank-one change
    # of I − Q, so Sherman–Morrison gives each P_k(conv) exactly without a solve per key.
    solved = np.linalg.solve(np.eye(size) - q, np.column_stack([r, q]))
    x, y = solved[:, 0], solved[:, 1:]
    p = float(x[0])
    if p <= 0.0:
        return dict.fromkeys(keys, 0.0)
    effects: dict[str, float] = {}
    for k, j in index.items():
        p_k = p - float(y[0, j] * x[j] / (1.0 + y[j, j]))
        # Exactly ≥ 0 in theory; clamp rounding so no key gets negative credit.
        effects[k] = max(0.0, 1.0 - p_k / p)
    return effects


class Accumulator:
    """Folds a stream of paths into per-key credit and transition counts; memory ∝ keys + transitions.

    The one mutable object here: `add` changes the accumulator, never the path.
    """

    def __init__(
        self,
        *,
        group_by: GroupBy = GroupBy.CHANNEL,
        half_life: timedelta = timedelta(days=7),
        min_profiles: int = 1,
    ) -> None:
        if half_life <= timedelta(0):
            raise ValueError("half_life must be positive")
        if min_profiles < 1:
            raise ValueError("min_profiles must be at least 1")
        self.group_by = group_by
        self.half_life = half_life
        self.min_profiles = min_profiles
        self._conversions = 0
        self._value = 0.0
        self._direct = 0
        self._direct_value = 0.0
        self._credit: dict[Model, dict[str, list[float]]] = {m: {} for m in (*_PER_TOUCH, Model.SHAPLEY)}
        self._from_start: Counter[str] = Counter()
        self._between: Counter[tuple[str, str]] = Counter()
        self._to_conversion: Counter[str] = Counter()
        self._to_null: Counter[str] = Counter()
        # Sets stop growing at min_profiles members: enough to decide k-anonymity, bounded per key.
        self._converting_profiles: dict[str, set[str]] = {}
        self._any_profiles: dict[str, set[str]] = {}

    def _see(self, profiles: dict[str, set[str]], key: str, profile_id: str) -> None:
        seen = profiles.setdefault(key, set())
        if len(seen) < self.min_profiles:
            seen.add(profile_id)

    def add(self, path: Path) -> None:
        """Credit one path: per-touch weights, ⅟m per distinct key (Shapley) and one count per transition."""
        keys = [key_of(t, self.group_by) for t in path.touches]
        if path.at is not None:
            self._conversions += 1
            self._value += path.value
            if not keys:
                self._direct += 1
                self._direct_value += path.value
                self._see(self._converting_profiles, NO_TOUCH, path.profile_id)
                self._see(self._any_profiles, NO_TOUCH, path.profile_id)
                return
            for model in _PER_TOUCH:
                self._credit_keys(model, keys, _weights(model, path, path.at, self.half_life), path.value)
            distinct = list(dict.fromkeys(keys))
            self._credit_keys(Model.SHAPLEY, distinct, [1.0 / len(distinct)] * len(distinct), path.value)
            for k in distinct:
                self._see(self._converting_profiles, k, path.profile_id)
        elif not keys:
            return
        states = [k for k, _ in itertools.groupby(keys)]
        self._from_start[states[0]] += 1
        self._between.update(itertools.pairwise(states))
        (self._to_conversion if path.converted else self._to_null)[states[-1]] += 1
        for k in states:
            self._see(self._any_profiles, k, path.profile_id)

    def _credit_keys(self, model: Model, keys: Sequence[str], weights: Sequence[float], value: float) -> None:
        credit = self._credit[model]
        for k, w in zip(keys, weights, strict=True):
            cell = credit.setdefault(k, [0.0, 0.0])
            cell[0] += w
            cell[1] += w * value

    def report(self, model: Model) -> Report:
        """Rows per key (+ `(no touch)`), merged below k into `(other)`, sorted by conversions desc, key."""
        cells: dict[str, tuple[float, float, float | None]]
        if model == Model.MARKOV:
            profiles = self._any_profiles
            cells = self._markov_cells()
        else:
            profiles = self._converting_profiles
            cells = {k: (c, v, None) for k, (c, v) in self._credit[model].items()}
        if self._direct:
            cells[NO_TOUCH] = (float(self._direct), self._direct_value, None)
        kept = {k: c for k, c in cells.items() if len(profiles.get(k, ())) >= self.min_profiles}
        merged = [c for k, c in cells.items() if k not in kept]
        if merged:
            kept[OTHER] = (math.fsum(c for c, _, _ in merged), math.fsum(v for _, v, _ in merged), None)
        total = float(self._conversions)
        rows = [Row(k, c, v, c / total if total else 0.0, re) for k, (c, v, re) in kept.items()]
        rows.sort(key=lambda row: (-row.conversions, row.key))
        return Report(model, self.group_by, total, self._value, tuple(rows))

    def _markov_cells(self) -> dict[str, tuple[float, float, float | None]]:
        if not self._from_start:
            return {}
        effects = removal_effects(
            self._from_start, self._between, self._to_conversion, self._to_null, self._direct
        )
        total_effect = math.fsum(effects.values())
        touched = float(self._conversions - self._direct)
        touched_value = self._value - self._direct_value
        return {
            k: (
                re / total_effect * touched if total_effect else 0.0,
                re / total_effect * touched_value if total_effect else 0.0,
                re,
            )
            for k, re in effects.items()
        }


def attribute(
    model: Model,
    paths: Iterable[Path],
    *,
    group_by: GroupBy = GroupBy.CHANNEL,
    half_life: timedelta = timedelta(days=7),
    min_profiles: int = 1,
) -> Report:
    """One model's report over the paths (see `Accumulator`)."""
    return _accumulate(paths, group_by, half_life, min_profiles).report(model)


def attribute_all(
    paths: Iterable[Path],
    *,
    group_by: GroupBy = GroupBy.CHANNEL,
    half_life: timedelta = timedelta(days=7),
    min_profiles: int = 1,
) -> dict[Model, Report]:
    """All seven models from one pass over the paths."""
    acc = _accumulate(paths, group_by, half_life, min_profiles)
    return {m: acc.report(m) for m in Model}


def _accumulate(
    paths: Iterable[Path], group_by: GroupBy, half_life: timedelta, min_profiles: int
) -> Accumulator:
    acc = Accumulator(group_by=group_by, half_life=half_life, min_profiles=min_profiles)
    for path in paths:
        acc.add(path)
    return acc
