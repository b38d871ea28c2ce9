"""Per-station token buckets: a flooding station is bounded, the others unaffected."""
from __future__ import annotations

import time
from typing import Callable

UNKNOWN = "?"  # every station not in the catalogue shares one bucket


class TokenBuckets:
    """``allow(key)`` spends one token of ``key``'s bucket (``rate`` per s, ``burst`` deep)."""

    def __init__(self, rate: float, burst: float, known: set[str] | frozenset[str],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.known, self.clock = rate, burst, known, clock
        self._state: dict[str, list[float]] = {}

    def allow(self, key: str) -> bool:
        if self.rate <= 0:
            return True
        if key not in self.known:
            key = UNKNOWN
        now = self.clock()
        st = self._state.get(key)
        if st is None:
            st = self._state[key] = [self.burst, now]
        tokens = min(self.burst, st[0] + (now - st[1]) * self.rate)
        st[1] = now
        if tokens < 1.0:
            st[0] = tokens
            return False
        st[0] = tokens - 1.0
        return True


def topic_station(topic: str) -> str:
    """The station segment of fenwei/v1/{city}/{kind}/{station}/readings ('' if none)."""
    parts = topic.split("/", 5)
    return parts[4] if len(parts) == 6 else ""
