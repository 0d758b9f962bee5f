"""Conversion probability: logistic regression on a journey's behaviour, learned per workspace.

Features of a journey as seen at its last pre-conversion event: decayed counts per event name, the
phase reached (one-hot), recency (log hours since the journey's previous event) and channel mix.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.special import expit
from scipy.stats import mannwhitneyu

from server.domain.scoring import JOURNEY_IDLE, ScoredEvent, decay, journeys_of
from server.domain.taxonomy import Phase

FloatArray = npt.NDArray[np.float64]
L2 = 1.0  # ridge strength: a few hundred journeys must not give wild coefficients


@dataclass(frozen=True)
class Touchpoint:
    """A scored event and the channel it came through."""

    event: ScoredEvent
    channel: str


@dataclass(frozen=True)
class Example:
    features: dict[str, float]
    converted: bool


@dataclass(frozen=True)
class PropensityModel:
    names: tuple[str, ...]  # feature names, in coefficient order
    coefficients: tuple[float, ...]
    intercept: float
    auc: float | None  # on the held-out quarter; None when it had only one class
    journeys: int
    conversions: int


class NotEnoughJourneys(ValueError):
    """Too few closed journeys (or only one outcome) to learn from."""


def features(touchpoints: Sequence[Touchpoint], now: datetime, half_life: timedelta) -> dict[str, float]:
    """The journey's features at `now` (which is at or after its last event)."""
    result: dict[str, float] = {}
    reached = max((t.event.phase for t in touchpoints if t.event.phase is not None), default=None)
    for phase in Phase:
        if phase is not Phase.ACTION:
            result[f"phase:{phase.name}"] = 1.0 if reached is phase else 0.0
    for t in touchpoints:
        key = f"event:{t.event.name}"
        result[key] = result.get(key, 0.0) + decay(now, t.event.at, half_life)
        channel = f"channel:{t.channel}"
        result[channel] = result.get(channel, 0.0) + 1.0 / len(touchpoints)
    if touchpoints:
        result["recency_log_hours"] = math.log1p((now - touchpoints[-1].event.at) / timedelta(hours=1))
    return result


def examples(touchpoints: Sequence[Touchpoint], now: datetime, half_life: timedelta) -> list[Example]:
    """One example per closed journey: its events before the first ACTION, labelled by whether one
    came. The open journey (still undecided at `now`) is not an example."""
    by_event = {id(t.event): t for t in touchpoints}
    result = []
    for journey in journeys_of([t.event for t in touchpoints]):
        converted = any(e.phase is Phase.ACTION for e in journey)
        if not converted and now - journey[-1].at <= JOURNEY_IDLE:
            continue
        before = [by_event[id(e)] for e in journey if e.phase is not Phase.ACTION]
        if converted:
            first_action = next(e for e in journey if e.phase is Phase.ACTION)
            before = [t for t in before if t.event.at <= first_action.at]
        if before:
            result.append(Example(features(before, before[-1].event.at, half_life), converted))
    return result


def _matrix(rows: Sequence[dict[str, float]], names: Sequence[str]) -> FloatArray:
    return np.array([[row.get(name, 0.0) for name in names] for row in rows], dtype=np.float64)


def _fit(x: FloatArray, y: FloatArray) -> tuple[FloatArray, float]:
    def loss(w: FloatArray) -> tuple[float, FloatArray]:
        z = x @ w[1:] + w[0]
        p = expit(z)
        value = float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * L2 * np.sum(w[1:] ** 2))
        residual = p - y
        grad = np.concatenate(([residual.sum()], x.T @ residual + L2 * w[1:]))
        return value, grad

    result = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B")
    return result.x[1:], float(result.x[0])


def fit(data: Sequence[Example], *, min_journeys: int = 20, seed: int = 0) -> PropensityModel:
    """L2-regularized logistic regression (scipy L-BFGS); AUC on a seeded held-out quarter."""
    positives = sum(e.converted for e in data)
    if len(data) < min_journeys or positives in (0, len(data)):
        raise NotEnoughJourneys(
            f"{len(data)} closed journeys with {positives} conversions: not enough to learn from."
        )
    names = tuple(sorted({name for e in data for name in e.features}))
    x = _matrix([e.features for e in data], names)
    y = np.array([1.0 if e.converted else 0.0 for e in data])
    order = np.random.default_rng(seed).permutation(len(data))
    held = order[: max(1, len(data) // 4)]
    train = order[len(held) :]
    weights, intercept = _fit(x[train], y[train])
    auc = None
    scores = x[held] @ weights + intercept
    pos, neg = scores[y[held] == 1], scores[y[held] == 0]
    if len(pos) and len(neg):
        auc = float(mannwhitneyu(pos, neg).statistic / (len(pos) * len(neg)))
    weights, intercept = _fit(x, y)  # the model served is trained on everything
    return PropensityModel(names, tuple(float(w) for w in weights), intercept, auc, len(data), positives)


def probability(model: PropensityModel, observed: dict[str, float]) -> float:
    """σ(w·x + b); features the model never saw are ignored."""
    z = model.intercept + sum(
        w * observed.get(name, 0.0) for name, w in zip(model.names, model.coefficients, strict=True)
    )
    return float(expit(z))
