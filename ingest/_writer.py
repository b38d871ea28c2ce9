"""The write stage: buffer decoded messages, write them in batches, then acknowledge.

The paho thread calls :meth:`Writer.put`; the writer thread takes the buffer when it holds
``batch_points`` readings, ``max_messages`` messages or is ``batch_ms`` old, and per batch:

1. writes the readings (retrying StoreUnavailable with backoff; a StoreRejected batch is
   bisected until the bad readings are isolated and dead-lettered),
2. records dead letters, feeds the completeness tracker and saves its state: each of these
   steps is retried in-process with the same backoff until it succeeds (the batch is then
   ``stalled``: a gauge and ``stats()`` show it), never skipped,
3. only then acknowledges every message of the batch.

An unexpected error anywhere calls ``on_failed`` (the service drops its broker connection:
the broker redelivers what was not acknowledged) instead of leaving the batch unacknowledged
on a live connection, which would stop the broker's deliveries for good.

``put`` blocks while ``max_buffer_points`` readings are buffered: the MQTT thread stops
reading from the socket and the broker holds the rest.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from core.store import StoreRejected
from core.wire import Batch, Reading, reading_dict, readings_topic

from core.deadletters import DeadLetter, DeadLetters, DeadLettersFull
from ._metrics import IngestMetrics
from ._retry import Backoff, GaveUp
from ._tracker import Tracker

log = logging.getLogger(__name__)

Ack = tuple[int, int, int]  # mid, qos, connection generation


@dataclass
class _Pending:
    batches: list[tuple[Batch, bool]] = field(default_factory=list)  # (batch, dup flag)
    dead: list[DeadLetter] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    points: int = 0
    since: float = 0.0
    last: float = 0.0


def rejection_reason(exc: StoreRejected) -> str:
    text = str(exc).lower()
    if "field type conflict" in text:
        return "field_type_conflict"
    if "retention" in text:
        return "beyond_retention"
    return "store_rejected"


class Writer:
    def __init__(self, write: Callable[[Sequence[Reading]], object], *,
                 dead_letters: DeadLetters, tracker: Tracker, metrics: IngestMetrics,
                 ack: Callable[[Ack], None], backoff: Backoff,
                 ack_many: Callable[[list[Ack]], None] | None = None,
                 batch_points: int = 5000,
                 batch_ms: int = 200, idle_ms: int = 20, max_messages: int = 5000,
                 max_buffer_points: int = 100_000,
                 oldest: Callable[[], float | None] = lambda: None,
                 on_failed: Callable[[], None] = lambda: None) -> None:
        self._write, self.dl, self.tracker, self.m = write, dead_letters, tracker, metrics
        self._ack, self.backoff, self._oldest = ack, backoff, oldest
        self._ack_many, self._on_failed = ack_many, on_failed
        self.batch_points, self.batch_s = batch_points, batch_ms / 1000
        self.idle_s = min(idle_ms, batch_ms) / 1000
        self.max_messages, self.max_buffer_points = max_messages, max_buffer_points
        self._cond = threading.Condition()
        self._cur = _Pending()
        self._inflight_points = 0   # in the batch being written
        self._closing = False
        self._deadline = float("inf")  # monotonic time after which retries give up
        self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
        self.stored = self.acked = self.dead_count = self.batch_count = 0
        self.paused = False
        self.store_down = False
        self.stalled: str | None = None   # the step a written batch is stuck at
        self.stalled_since: float | None = None
        self.failures = 0                 # batches abandoned to redelivery
        self._counted = 0.0               # monotonic time of the last dead-letter count

    # -- paho thread --------------------------------------------------------------------
    def put(self, batch: Batch | None, dead: DeadLetter | None, ack: Ack, dup: bool) -> bool:
        """Buffer one message; False when closing (the message stays unacknowledged)."""
        n = len(batch.readings) if batch is not None else 0
        with self._cond:
            while (n and self._cur.points + self._inflight_points >= self.max_buffer_points
                   and not self._closing):
                if not self.paused:
                    self.paused = True
                    self.m.paused.set(1)
                self._cond.wait(0.5)
            if self.paused:
                self.paused = False
                self.m.paused.set(0)
            if self._closing:
                return False
            cur = self._cur
            cur.last = time.monotonic()
            if not cur.acks:
                cur.since = cur.last
            if batch is not None:
                cur.batches.append((batch, dup))
                cur.points += n
            if dead is not None:
                cur.dead.append(dead)
            cur.acks.append(ack)
            if cur.points >= self.batch_points or len(cur.acks) >= self.max_messages:
                self._cond.notify_all()
        return True

    def buffered(self) -> tuple[int, int]:
        """(readings, messages) held and not yet acknowledged."""
        return self._cur.points + self._inflight_points, len(self._cur.acks)

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float) -> bool:
        """Flush what is buffered (giving up on a dead store after ``timeout`` s)."""
        with self._cond:
            self._closing = True
            self._deadline = time.monotonic() + timeout
            self._cond.notify_all()
        self._thread.join(timeout + 10)
        return not self._thread.is_alive()

    # -- writer thread ------------------------------------------------------------------
    def _take(self) -> _Pending | None:
        with self._cond:
            while True:
                cur = self._cur
                if cur.acks:
                    # due when old enough, or when nothing arrived for idle_s: the broker
                    # may be holding back until we acknowledge (its in-flight limit)
                    now = time.monotonic()
                    due = min(cur.since + self.batch_s, cur.last + self.idle_s) - now
                    if (self._closing or due <= 0 or cur.points >= self.batch_points
                            or len(cur.acks) >= self.max_messages):
                        self._cur = _Pending()
                        self._inflight_points = cur.points
                        return cur
                    self._cond.wait(due)
                elif self._closing:
                    return None
                else:
                    self._cond.wait(1.0)

    def _run(self) -> None:
        while True:
            p = self._take()
            if p is None:
                return
            try:
                self._flush(p)
            except GaveUp:
                log.warning("store still unavailable at shutdown: %d messages left "
                            "unacknowledged for redelivery", len(p.acks))
                return
            except Exception:  # noqa: BLE001 - never lose the writer thread silently
                # unacknowledged on a live connection, the broker would never send them
                # again (nor more, past its in-flight limit): reconnect for redelivery
                self.failures += 1
                self.m.failed_batches.inc()
                log.exception("batch failed; dropping the broker connection so that its %d "
                              "messages are redelivered", len(p.acks))
                self._on_failed()
            finally:
                with self._cond:
                    self._inflight_points = 0
                    self._cond.notify_all()
                self._gauges()

    def _flush(self, p: _Pending) -> None:
        readings = [r for b, _ in p.batches for r in b.readings]
        dead = list(p.dead)
        oldest = self._oldest()
        if oldest is not None:      # the store would drop them: no round trips to learn it
            old = [r for r in readings if r.ts.timestamp() < oldest]
            if old:
                readings = [r for r in readings if r.ts.timestamp() >= oldest]
                dead += [_reading_letter(r, "beyond_retention", "older than the retention "
                                         "period") for r in old]
        if readings:
            t0 = time.perf_counter()
            bad = self._write_bisect(readings)
            self.m.write_seconds.observe(time.perf_counter() - t0)
            self.m.last_write.set_to_current_time()
            self.m.batches.inc()
            self.batch_count += 1
            dead += [_reading_letter(readings[i], reason, detail) for i, reason, detail in bad]
            ok = len(readings) - len(bad)
            self.stored += ok
            self.m.readings.inc(ok)
        if dead:
            self._finish("dead_letters", lambda: self.dl.add(dead))
            for d in dead:
                self.m.dead_letters.labels(d.reason).inc()
            self.dead_count += len(dead)
        self._track(p.batches)
        if self._ack_many is not None:
            self._ack_many(p.acks)
        else:
            for a in p.acks:
                self._ack(a)
        self.acked += len(p.acks)
        self.m.acks.inc(len(p.acks))

    def _track(self, batches: list[tuple[Batch, bool]]) -> None:
        before = self.tracker.totals()
        with self.tracker.lock:
            for b, _ in batches:
                self.tracker.observe(b.station, b.seq, b.readings)
        after = self.tracker.totals()
        self.m.gaps.inc(max(0, after["missing_total"] - before["missing_total"]))
        self.m.duplicates.inc(max(0, after["duplicates"] - before["duplicates"]))
        self.m.late.inc(max(0, after["late"] - before["late"]))
        self._finish("tracker", self.tracker.save)   # keeps its changes until saved

    def _finish(self, step: str, fn: Callable[[], object]) -> None:
        """Run a step after the write until it succeeds (or the drain deadline passes)."""
        def on_retry(exc: BaseException) -> None:
            self.m.step_retries.labels(step).inc()
            if self.stalled is None:
                self.stalled, self.stalled_since = step, time.time()
                self.m.stalled.set(1)
                if isinstance(exc, DeadLettersFull):
                    self.m.dead_letters_full.set(1)
        self.backoff.call(fn, lambda: time.monotonic() > self._deadline, on_retry,
                          what=step.replace("_", " "))
        if self.stalled is not None:
            log.warning("%s succeeds again after %.0f s; the batch is finished", step,
                        time.time() - (self.stalled_since or time.time()))
            self.stalled = self.stalled_since = None
            self.m.stalled.set(0)
            self.m.dead_letters_full.set(0)

    def _write_bisect(self, readings: list[Reading]) -> list[tuple[int, str, str]]:
        """Write everything writable; return (index, reason, detail) of refused readings."""
        return write_bisect(self._write_retrying, readings)

    def _write_retrying(self, readings: Sequence[Reading]) -> None:
        def on_retry(exc):
            self.m.store_retries.inc()
            if not self.store_down:
                self.store_down = True
                self.m.store_up.set(0)
        self.backoff.call(lambda: self._write(readings),
                          lambda: time.monotonic() > self._deadline, on_retry)
        if self.store_down:
            self.store_down = False
            self.m.store_up.set(1)
            log.info("store writes succeed again")

    def _gauges(self) -> None:
        pts, msgs = self.buffered()
        self.m.buffer_readings.set(pts)
        self.m.buffer_messages.set(msgs)
        now = time.monotonic()
        if now - self._counted > 5:        # a replay elsewhere removes rows: recount
            self._counted = now
            try:
                self.dl.expire()
                self.m.dead_letters_kept.set(self.dl.count())
            except Exception as exc:  # noqa: BLE001 - a gauge never stops the writer
                log.warning("cannot count dead letters: %s", exc)
        else:
            self.m.dead_letters_kept.set(self.dl.kept)


def write_bisect(write: Callable[[Sequence[Reading]], object],
                 readings: list[Reading]) -> list[tuple[int, str, str]]:
    """Write with ``write`` (which retries outages itself); a StoreRejected part is halved
    until the refused readings are alone: their (index, reason, detail) are returned."""
    bad: list[tuple[int, str, str]] = []
    stack = [(0, len(readings))]
    while stack:
        lo, hi = stack.pop()
        try:
            write(readings if lo == 0 and hi == len(readings) else readings[lo:hi])
        except StoreRejected as exc:
            if hi - lo == 1:
                bad.append((lo, rejection_reason(exc), str(exc)))
            else:
                mid = (lo + hi) // 2
                stack += [(mid, hi), (lo, mid)]
    return bad


def _reading_letter(r: Reading, reason: str, detail: str) -> DeadLetter:
    d = reading_dict(r.ts, r.period, r.values, r.flags, agent_ts=r.agent_ts,
                     backfill=r.backfill)
    payload = json.dumps({"v": 1, "station": r.station, "seq": None, "readings": [d]},
                         ensure_ascii=False).encode("utf-8")
    return DeadLetter(readings_topic(r.city, r.kind, r.station), reason, detail, payload,
                      r.station)
