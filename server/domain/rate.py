"""Rate limiting as a token bucket per (key, operation): pure, with the clock passed in."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Bucket:
    tokens: float
    at: float  # monotonic seconds


def take(bucket: Bucket | None, now: float, *, rate_per_second: float, burst: float) -> tuple[Bucket, float]:
    """(the bucket after one request, seconds to wait — 0 when the request may go ahead)."""
    current = burst if bucket is None else min(burst, bucket.tokens + (now - bucket.at) * rate_per_second)
    if current >= 1.0:
        return Bucket(current - 1.0, now), 0.0
    return Bucket(current, now), (1.0 - current) / rate_per_second
