"""The injected clock: every time the platform reads goes through one of these."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time, UTC."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class ManualClock:
    """A clock that only moves when told to (tests, simulations)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")
        self._t = start.astimezone(timezone.utc)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._t

    def advance(self, delta: timedelta | float) -> datetime:
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=delta)
        with self._lock:
            self._t += delta
            return self._t

    def set(self, t: datetime) -> None:
        with self._lock:
            self._t = t.astimezone(timezone.utc)


class FuncClock:
    """Adapts a ``() -> epoch seconds`` function (e.g. the demo's simulated clock)."""

    def __init__(self, func) -> None:
        self._func = func

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._func(), timezone.utc)
