"""Gap filling (反控补数): time gaps in a station's periodic series, filled by asking its logger.

The tracker keeps the slots of each station's series seen in the completeness window
(:meth:`Tracker.series`). A *gap* is a run of missing slots between two slots that arrived: the
station reported again after an outage but its logger did not back-fill the hours in between.
Each gap (at most ``max_span_s`` long; longer runs are split) is a row of the ``fill_gaps``
table in the ingest state file, keyed by (station, first missing slot), and moves through

    open ──(grace over, station's rate limit allows)──> requested ──(every slot stored)──> filled
      │                                                   │  └─(still missing at next_try)─> requested again
      └──────────────(max_attempts spent, or the gap left the window)──────────────────> given_up

A request is one JSON message on the station's fill topic
(``fenwei/v1/{city}/{kind}/{station}/fill``, QoS 1, not retained); its ``id`` is the gap's, so a
retry is the same request again (the agent and the logger may see it twice: the readings it
brings are de-duplicated by the store). Retries wait :func:`core.backoff.backoff_delay`; a
station gets at most one request per ``min_interval_s``. All times are the ingest's clock.
"""
from __future__ import annotations

import json
import logging
import random
import sqlite3
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Callable

from core.backoff import backoff_delay
from core.catalogue import Catalogue
from core.wire import fill_topic, format_period, iso

from ._tracker import Tracker

log = logging.getLogger(__name__)

STATES = ("open", "requested", "filled", "given_up")
KEEP_CLOSED_S = 30 * 86400   # filled and given-up gaps are listed this long
ACTIVE = ("open", "requested")

_SCHEMA = """CREATE TABLE IF NOT EXISTS fill_gaps (
    station TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    period_s INTEGER NOT NULL, state TEXT NOT NULL, detected_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_try REAL NOT NULL,
    requested_at REAL, closed_at REAL, missing INTEGER NOT NULL, detail TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (station, start))"""
_COLUMNS = ("station", "start", "end", "period_s", "state", "detected_at", "attempts",
            "next_try", "requested_at", "closed_at", "missing", "detail")


@dataclass
class Gap:
    station: str
    start: int          # first missing slot (epoch s)
    end: int            # last missing slot (inclusive)
    period_s: int
    state: str
    detected_at: float
    attempts: int = 0
    next_try: float = 0.0
    requested_at: float | None = None
    closed_at: float | None = None
    missing: int = 0    # slots of the span still missing at the last scan
    detail: str = ""

    @property
    def id(self) -> str:
        return f"{self.station}/{_iso(self.start)}/{_iso(self.end)}"

    @property
    def slots(self) -> int:
        return (self.end - self.start) // self.period_s + 1

    def as_dict(self) -> dict:
        d = asdict(self)
        d.update(id=self.id, start=_iso(self.start), end=_iso(self.end),
                 period=format_period(self.period_s), slots=self.slots)
        for k in ("detected_at", "next_try", "requested_at", "closed_at"):
            d[k] = None if d[k] is None else _iso(d[k])
        return d


def _iso(t: float) -> str:
    return iso(datetime.fromtimestamp(t, timezone.utc))


def missing_runs(slots: list[int], period: int, max_span_s: int) -> list[tuple[int, int]]:
    """Runs (first, last) of missing slots between consecutive present ones, each at most
    ``max_span_s`` long. ``slots`` sorted; nothing before the first or after the last."""
    out = []
    per_run = max(1, max_span_s // period)
    for a, b in zip(slots, slots[1:]):
        if b - a <= period:
            continue
        first, last = a + period, b - period
        while first <= last:
            stop = min(last, first + (per_run - 1) * period)
            out.append((first, stop))
            first = stop + period
    return out


class GapBook:
    """The ``fill_gaps`` table (its own connection to the ingest state file; the filler's
    thread writes, any thread reads: one lock around the connection)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self._lock = threading.Lock()
        with self._lock, db:
            db.execute(_SCHEMA)

    def load(self, states: tuple[str, ...] = STATES) -> list[Gap]:
        marks = ",".join("?" * len(states))
        with self._lock:
            rows = self.db.execute(
                f'SELECT {",".join(_q(c) for c in _COLUMNS)} FROM fill_gaps WHERE state IN '
                f"({marks}) ORDER BY station, start", states).fetchall()
        return [Gap(*r) for r in rows]

    def save(self, gaps: list[Gap]) -> None:
        if not gaps:
            return
        marks = ",".join("?" * len(_COLUMNS))
        with self._lock, self.db:
            self.db.executemany(
                f'INSERT OR REPLACE INTO fill_gaps ({",".join(_q(c) for c in _COLUMNS)}) '
                f"VALUES ({marks})", [tuple(getattr(g, c) for c in _COLUMNS) for g in gaps])

    def prune(self, before: float) -> int:
        """Forget filled and given-up gaps closed before ``before``."""
        with self._lock, self.db:
            return self.db.execute("DELETE FROM fill_gaps WHERE state IN ('filled', 'given_up')"
                                   " AND closed_at < ?", (before,)).rowcount

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATES, 0)
        with self._lock:
            rows = self.db.execute("SELECT state, count(*) FROM fill_gaps GROUP BY state"
                                   ).fetchall()
        out.update(dict(rows))
        return out


def _q(col: str) -> str:
    return '"end"' if col == "end" else col


def list_gaps(db: sqlite3.Connection, *, station: str | None = None,
              state: str | None = None) -> list[Gap]:
    """Gaps in the state file, oldest first (``fenwei ingest gaps``)."""
    gaps = GapBook(db).load((state,) if state else STATES)
    return [g for g in gaps if station is None or g.station == station]


class GapFiller:
    """Scans the tracker for time gaps and publishes fill requests; ``scan`` does one round.

    ``publish(topic, payload) -> bool`` sends one QoS 1 message (False: not sent, retried at
    the next scan without spending an attempt)."""

    def __init__(self, catalogue: Catalogue, tracker: Tracker, book: GapBook,
                 publish: Callable[[str, bytes], bool], *, clock: Callable[[], float],
                 grace_s: float, retry_initial_s: float, retry_max_s: float,
                 max_attempts: int, min_interval_s: float, max_span_s: int,
                 metrics=None, rng: random.Random | None = None) -> None:
        self.cat, self.tracker, self.book, self.publish = catalogue, tracker, book, publish
        self.clock, self.grace_s = clock, grace_s
        self.retry = (retry_initial_s, retry_max_s)
        self.max_attempts, self.min_interval_s, self.max_span_s = (
            max_attempts, min_interval_s, max_span_s)
        self.metrics = metrics
        self.rng = rng or random.Random()
        self._last: dict[str, float] = {}
        for g in book.load():
            if g.requested_at is not None:
                self._last[g.station] = max(self._last.get(g.station, 0.0), g.requested_at)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.requests = 0

    # -- one round ----------------------------------------------------------------------
    def scan(self) -> list[Gap]:
        """Find new gaps, update the active ones, send what is due; returns changed gaps."""
        now = self.clock()
        self.book.prune(now - KEEP_CLOSED_S)
        active = self.book.load(ACTIVE)
        known = {g.station: [] for g in active}
        for g in self.book.load(("filled", "given_up")) + active:
            known.setdefault(g.station, []).append((g.start, g.end))
        changed: list[Gap] = []
        series = {sid: self.tracker.series(sid) for sid in self.tracker.stations()}
        for sid, (period, slots) in series.items():
            if period <= 0 or len(slots) < 2:
                continue
            for first, last in missing_runs(slots, period, self.max_span_s):
                if any(a <= last and first <= b for a, b in known.get(sid, ())):
                    continue
                gap = Gap(sid, first, last, period, "open", now,
                          next_try=now + self.grace_s, missing=(last - first) // period + 1)
                log.info("station %s: gap of %d slots %s found (fill request after %.0f s)",
                         sid, gap.missing, gap.id, self.grace_s)
                active.append(gap)
                changed.append(gap)
        for gap in active:
            if self._update(gap, series.get(gap.station, (0, []))[1], now):
                if gap not in changed:
                    changed.append(gap)
        self.book.save(changed)
        self._gauges()
        return changed

    def _update(self, gap: Gap, slots: list[int], now: float) -> bool:
        present = set(slots)
        before = (gap.state, gap.attempts, gap.missing)
        gap.missing = sum(1 for t in range(gap.start, gap.end + 1, gap.period_s)
                          if t not in present)
        if gap.missing == 0:
            gap.state, gap.closed_at = "filled", now
            log.info("station %s: gap %s filled after %d requests", gap.station, gap.id,
                     gap.attempts)
            return True
        horizon = now - self.tracker.window_s
        if gap.start < horizon:
            return self._give_up(gap, now, "left the completeness window")
        if now < gap.next_try:
            return (gap.state, gap.attempts, gap.missing) != before
        if gap.attempts >= self.max_attempts:
            return self._give_up(gap, now, f"{gap.missing} slots still missing after "
                                 f"{gap.attempts} requests")
        if now < self._last.get(gap.station, float("-inf")) + self.min_interval_s:
            return (gap.state, gap.attempts, gap.missing) != before
        if not self._request(gap, now):
            return (gap.state, gap.attempts, gap.missing) != before
        return True

    def _give_up(self, gap: Gap, now: float, why: str) -> bool:
        gap.state, gap.closed_at, gap.detail = "given_up", now, why
        log.warning("station %s: gap %s given up: %s", gap.station, gap.id, why)
        return True

    def _request(self, gap: Gap, now: float) -> bool:
        st = self.cat.stations.get(gap.station)
        if st is None:
            return False
        body = {"v": 1, "id": gap.id, "station": gap.station,
                "period": format_period(gap.period_s), "start": _iso(gap.start),
                "end": _iso(gap.end), "attempt": gap.attempts + 1, "sent": _iso(now)}
        topic = fill_topic(st.city, st.kind, st.id)
        if not self.publish(topic, json.dumps(body, separators=(",", ":")).encode()):
            return False
        delay = backoff_delay(gap.attempts, *self.retry, self.rng.random)
        gap.attempts += 1
        gap.state, gap.requested_at, gap.next_try = "requested", now, now + delay
        self._last[gap.station] = now
        self.requests += 1
        if self.metrics is not None:
            self.metrics.fill_requests.inc()
        log.info("station %s: fill request %d for %s (%d slots missing), next check in %.0f s",
                 gap.station, gap.attempts, gap.id, gap.missing, delay)
        return True

    def _gauges(self) -> None:
        if self.metrics is None:
            return
        for state, n in self.book.counts().items():
            self.metrics.fill_gaps.labels(state=state).set(n)

    # -- the thread ----------------------------------------------------------------------
    def start(self, every_s: float) -> "GapFiller":
        self._thread = threading.Thread(target=self._run, args=(every_s,), daemon=True,
                                        name="ingest-gapfill")
        self._thread.start()
        return self

    def _run(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            try:
                self.scan()
            except Exception:  # noqa: BLE001 - the next round tries again
                log.exception("gap scan failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
