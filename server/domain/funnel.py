"""Ordered-step funnels: how many customers reach each step in order, within a time window."""

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Step:
    name: str
    profiles: int
    conversion_from_previous: float | None  # share of the previous step's profiles that got here
    drop_off: int  # profiles of the previous step that did not
    median_seconds_from_previous: float | None


def progress(
    events: Sequence[tuple[datetime, str]], steps: Sequence[str], window: timedelta
) -> list[datetime]:
    """When one profile reached each step in order (greedy earliest), all within `window` of the first
    step; shorter than `steps` where it stopped. Events must be in time order."""
    reached: list[datetime] = []
    for at, name in events:
        if len(reached) == len(steps):
            break
        if reached and at - reached[0] > window:
            break
        if name == steps[len(reached)]:
            reached.append(at)
    return reached


def funnel(progresses: Iterable[list[datetime]], steps: Sequence[str]) -> list[Step]:
    """Counts, step-to-step conversion and drop-off, and the median time between steps."""
    counts = [0] * len(steps)
    gaps: list[list[float]] = [[] for _ in steps]
    for reached in progresses:
        for index, at in enumerate(reached):
            counts[index] += 1
            if index:
                gaps[index].append((at - reached[index - 1]).total_seconds())
    result = []
    for index, name in enumerate(steps):
        previous = counts[index - 1] if index else None
        result.append(
            Step(
                name=name,
                profiles=counts[index],
                conversion_from_previous=(counts[index] / previous if previous else None) if index else None,
                drop_off=(previous - counts[index]) if previous is not None else 0,
                median_seconds_from_previous=statistics.median(gaps[index]) if gaps[index] else None,
            )
        )
    return result
