"""Device clocks: impossible timestamps onto their period grid, and loggers' clocks set right.

A device timestamp in the future (beyond what the wire format accepts) or before 2000 cannot be
published. The agent then estimates it from its own clock: a periodic value goes on its period
grid, the period that last ended before it arrived (HJ 212 interval data carries the period
start: an hourly value that arrives at 10:00:40 is the 09:00 hour; a CST day for daily data),
an instantaneous one on the station's reporting grid (an SL 651 hourly report observed at the
top of the hour that began), never at the arrival instant, which lies off the grid.

An HJ 212 logger whose clock is off by more than ``tolerance_s`` is sent CN 1012 (set system
time) with the agent's time, at most once per ``min_interval_s``, and the correction is logged.
The offset is judged from the QN (the send time) of what the logger sends at once: real-time
data (2011), heartbeats (9015) and time-calibration requests (1013); interval uploads only over
a window of ``window_s`` in which at least one arrived fresh (a logger back-filling hours after
an outage sends old QNs: that is not a slow clock). An impossible DataTime is a wrong clock.
"""
from __future__ import annotations

import math
from collections import deque
from datetime import datetime, timedelta, timezone

MIN_TS = datetime(2000, 1, 2, tzinfo=timezone.utc).timestamp()
MAX_AHEAD_S = 86400 - 600     # the wire decoder refuses ts more than a day ahead
CST_S = 8 * 3600
FRESH_CNS = frozenset({"2011", "9015", "1013"})


def impossible(ts: float, now: float) -> bool:
    """Whether a device timestamp cannot be published (before 2000, or a day ahead)."""
    return ts < MIN_TS or ts > now + MAX_AHEAD_S


def period_start_grid(now: float, period_s: int) -> float:
    """The start of the last whole period that ended at or before ``now`` (P1D: CST days)."""
    if period_s <= 0:
        return now
    shift = CST_S if period_s % 86400 == 0 else 0
    return math.floor((now + shift) / period_s) * period_s - shift - period_s


def instant_grid(now: float, step_s: int) -> float:
    """The grid instant at or before ``now`` (an hourly report observes the top of the hour)."""
    return now if step_s <= 0 else math.floor(now / step_s) * step_s


def regrid(times: list[datetime], latest: float) -> list[datetime]:
    """``times`` shifted together so that their latest lands on ``latest`` (a series keeps
    its steps)."""
    last = max(t.timestamp() for t in times)
    delta = timedelta(seconds=latest - last)
    return [t + delta for t in times]


class LoggerClock:
    """Send-time offsets of one logger (QN minus arrival) and when to set its clock."""

    def __init__(self, tolerance_s: float, window_s: float, min_interval_s: float) -> None:
        self.tolerance_s, self.window_s, self.min_interval_s = (
            tolerance_s, window_s, min_interval_s)
        self._fresh: deque[float] = deque(maxlen=3)
        self._all: deque[tuple[float, float]] = deque(maxlen=512)
        self.last_set = float("-inf")
        self.first_seen: float | None = None

    def sample(self, cn: str, sent: float, now: float) -> None:
        if self.first_seen is None:
            self.first_seen = now
        offset = sent - now
        if cn in FRESH_CNS:
            self._fresh.append(offset)
        self._all.append((now, offset))
        while self._all and self._all[0][0] < now - self.window_s:
            self._all.popleft()

    def offset(self, now: float) -> float | None:
        """The logger's clock offset (s, + = ahead), or None when it cannot be judged yet."""
        if len(self._fresh) >= 2:
            return sorted(self._fresh)[len(self._fresh) // 2]
        if self.first_seen is not None and now - self.first_seen >= self.window_s and self._all:
            return max(o for _, o in self._all)    # the freshest send of the window
        return None

    def due(self, now: float, impossible_time: bool = False) -> float | None:
        """The offset to correct now, or None (within tolerance, unknown, or set recently)."""
        if now < self.last_set + self.min_interval_s:
            return None
        off = self.offset(now)
        if impossible_time and (off is None or abs(off) <= self.tolerance_s):
            return math.inf if off is None else off
        if off is None or abs(off) <= self.tolerance_s:
            return None
        return off

    def corrected(self, now: float) -> None:
        self.last_set = now
        self._fresh.clear()
        self._all.clear()
        self.first_seen = now
