"""Simulated time: ``speed`` simulated seconds per real second (``inf`` = as fast as possible).

At infinite speed there is no shared "now": each device runs through its own schedule as fast
as the network lets it, yielding to the loop between events.
"""
from __future__ import annotations

import asyncio
import math
import time


class SimClock:
    def __init__(self, start: float, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self.start, self.speed = float(start), float(speed)
        self._t0: float | None = None

    @property
    def unbounded(self) -> bool:
        return math.isinf(self.speed)

    def begin(self) -> None:
        self._t0 = asyncio.get_running_loop().time()

    def now(self) -> float:
        """Current simulated epoch seconds (infinite speed: +inf, everything is due)."""
        if self.unbounded:
            return math.inf
        if self._t0 is None:
            self.begin()
        return self.start + (asyncio.get_running_loop().time() - self._t0) * self.speed

    def now_threadsafe(self) -> float:
        """``now()`` for other threads: the default event loop's clock is time.monotonic."""
        if self.unbounded or self._t0 is None:
            return self.start
        return self.start + (time.monotonic() - self._t0) * self.speed

    def real_s(self, sim_s: float) -> float:
        return 0.0 if self.unbounded else sim_s / self.speed

    def sim_s(self, real_s: float) -> float:
        return math.inf if self.unbounded else real_s * self.speed

    async def sleep_until(self, t: float) -> None:
        delay = 0.0 if self.unbounded else (t - self.now()) / self.speed
        await asyncio.sleep(max(delay, 0.0))


class AnchoredClock(SimClock):
    """A SimClock that follows a shared warped clock (:class:`core.clock.Clock`): every
    process of a stack reads the same simulated time. At ``begin`` the source writes the
    anchor file when none exists yet (the devices start the shared clock moving)."""

    def __init__(self, shared, speed: float | None = None) -> None:
        super().__init__(shared.start, speed or shared.speed)
        self.shared = shared

    def begin(self) -> None:
        from core.clock import write_anchor
        s = self.shared
        if s.anchor_file is not None and s._anchor() is None:
            write_anchor(s.anchor_file)
        anchor = s._anchor()
        behind = max(0.0, time.time() - anchor) if anchor is not None else 0.0
        self._t0 = asyncio.get_running_loop().time() - behind
