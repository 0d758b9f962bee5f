"""The most frequent event-name sequences before a conversion, and how often each converts."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from server.domain.attribution import Path


@dataclass(frozen=True)
class PathStat:
    steps: tuple[str, ...]
    conversions: int
    journeys: int

    @property
    def conversion_rate(self) -> float:
        return self.conversions / self.journeys if self.journeys else 0.0


def sequence(path: Path, max_length: int) -> tuple[str, ...]:
    """The path's event names with consecutive repeats collapsed, its last `max_length` steps."""
    steps: list[str] = []
    for touch in path.touches:
        if not steps or steps[-1] != touch.event:
            steps.append(touch.event)
    return tuple(steps[-max_length:])


def top_paths(paths: Iterable[Path], *, first: int, max_length: int = 5) -> list[PathStat]:
    """Sequences of converting paths by conversions (then rate), with every path of that sequence —
    converting or not — in `journeys`, so the rate says how often the sequence ends in a conversion."""
    conversions: Counter[tuple[str, ...]] = Counter()
    journeys: Counter[tuple[str, ...]] = Counter()
    for path in paths:
        steps = sequence(path, max_length)
        if not steps:
            continue
        journeys[steps] += 1
        if path.converted:
            conversions[steps] += 1
    stats = [PathStat(steps, count, journeys[steps]) for steps, count in conversions.items()]
    return sorted(stats, key=lambda s: (-s.conversions, -s.conversion_rate, s.steps))[:first]
