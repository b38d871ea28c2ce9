"""Where protocol sessions hand readings over: QC, then the durable queue, then a wake-up."""
from __future__ import annotations

import logging
from typing import Callable, Protocol

from ._qc import QualityControl, RawReading
from ._queue import DurableQueue
from ._stats import RateLimitedLog, Stats
from .errors import QueueFullError

log = logging.getLogger(__name__)


class Sink(Protocol):
    def submit(self, readings: list[RawReading]) -> bool:
        """Store durably; True when the device may be acknowledged."""


class QueueSink:
    """QC every reading, store the survivors in one transaction, then wake the publisher."""

    def __init__(self, qc: QualityControl, queue: DurableQueue, stats: Stats,
                 wake: Callable[[bool], None]) -> None:
        self._qc, self._queue, self._stats, self._wake = qc, queue, stats, wake
        self._rlog = RateLimitedLog(log)

    def submit(self, readings: list[RawReading]) -> bool:
        for r in readings:
            self._stats.inc("received", station=r.station)
        checked = [c for c in map(self._qc.check, readings) if c is not None]
        rows = [(c.station, c.ts, c.period, _dumps(c.body)) for c in checked]
        try:
            result = self._queue.put(rows)
        except QueueFullError as exc:
            for c in checked:
                self._stats.inc("rejected", station=c.station)
                self._stats.inc("rejected.queue_full", station=c.station)
            self._rlog.warning("queue_full", "queue full, readings refused (reject_new): %s", exc)
            self._wake(True)
            return False
        for c in checked:
            self._stats.inc("queued", station=c.station)
        if result.dropped_oldest:
            self._stats.inc("dropped", result.dropped_oldest)
            self._stats.inc("dropped.queue_full", result.dropped_oldest)
            self._rlog.warning("queue_full", "queue full: dropped the %d oldest readings",
                               result.dropped_oldest)
        self._wake(bool(result.dropped_oldest))
        return True


def _dumps(body: dict) -> str:
    import json
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))
