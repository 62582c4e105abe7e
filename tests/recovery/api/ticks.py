"""A monotonic clock the tests move by hand (rate limit buckets, the metrics snapshot)."""

from __future__ import annotations


class Ticks:
    """Seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
