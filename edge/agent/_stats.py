"""Counters of the agent (agent-wide and per station) and logging at a sane rate."""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter

#: Counter names that appear in every status message, even at zero.
BASE_COUNTERS = ("received", "queued", "published", "refused", "dropped", "rejected",
                 "crc_errors", "qc_flags", "bad_password", "unknown_device")


class Stats:
    """Thread-safe counters: ``inc(name, n, station=...)``; ``snapshot()`` for status/metrics.

    Names with a dot are sub-counters (``dropped.out_of_range``, ``qc.spike``,
    ``errors.bad_crc``).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._agent: Counter[str] = Counter()
        self._stations: dict[str, Counter[str]] = {}

    def inc(self, name: str, n: int = 1, *, station: str | None = None) -> None:
        if not n:
            return
        with self._lock:
            self._agent[name] += n
            if station is not None:
                self._stations.setdefault(station, Counter())[name] += n

    def get(self, name: str, station: str | None = None) -> int:
        with self._lock:
            src = self._agent if station is None else self._stations.get(station, Counter())
            return src[name]

    def snapshot(self, station: str | None = None) -> dict[str, int]:
        with self._lock:
            src = self._agent if station is None else self._stations.get(station, Counter())
            out = {k: 0 for k in BASE_COUNTERS}
            out.update(src)
            return dict(sorted(out.items()))


class RateLimitedLog:
    """Log the first event of a key, then at most one line per ``every`` seconds with a count."""

    def __init__(self, logger: logging.Logger, every: float = 60.0, clock=time.monotonic) -> None:
        self._log, self._every, self._clock = logger, every, clock
        self._last: dict[str, float] = {}
        self._suppressed: Counter[str] = Counter()
        self._lock = threading.Lock()

    def warning(self, key: str, msg: str, *args) -> None:
        self.log(logging.WARNING, key, msg, *args)

    def error(self, key: str, msg: str, *args) -> None:
        self.log(logging.ERROR, key, msg, *args)

    def log(self, level: int, key: str, msg: str, *args) -> None:
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._every:
                self._suppressed[key] += 1
                return
            self._last[key] = now
            extra = self._suppressed.pop(key, 0)
        if extra:
            self._log.log(level, msg + " (and %d more like it since the last report)",
                          *args, extra)
        else:
            self._log.log(level, msg, *args)
