"""Completeness: per station, seq gaps, duplicates, late arrivals and % of expected readings.

A station's periodic series is its readings of the catalogue interval's period (an air
station's PT1H hours); a gauge's instantaneous (PT0S) readings on that interval's grid count
as its series too (SL 651 hourly reports observe the top of the hour). :meth:`Tracker.series`
gives the slots seen in the window: the gap filler (``_gaps.py``) finds time gaps in them.

``observe`` is fed every stored message (station, seq, reading timestamps). State is saved
to the ``tracker`` table of the ingest state file before the messages are acknowledged, so
a restart (even after kill -9) resumes from what was acknowledged and reports no false gaps.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from core.catalogue import Catalogue
from core.wire import format_period

MAX_GAPS = 200  # open missing-seq ranges kept per station (oldest dropped first)

_SCHEMA = "CREATE TABLE IF NOT EXISTS tracker (station TEXT PRIMARY KEY, state TEXT NOT NULL)"


@dataclass
class StationState:
    max_seq: int = -1
    gaps: list[list[int]] = field(default_factory=list)  # [first, last] missing, inclusive
    missing_total: int = 0      # seqs ever found missing (including later filled)
    filled_total: int = 0       # missing seqs that arrived later
    duplicates: int = 0         # messages whose seq was already seen
    late: int = 0               # readings older than the newest one already seen
    resets: int = 0             # seq went back to 0
    max_ts: int = 0             # newest reading time seen (epoch s)
    recent: set[int] = field(default_factory=set)  # reading times in the completeness window

    def to_json(self) -> str:
        d = dict(self.__dict__)
        d["recent"] = sorted(self.recent)
        return json.dumps(d, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "StationState":
        d = json.loads(text)
        d["recent"] = set(d.get("recent", ()))
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


class Tracker:
    """Per-station completeness; used from one thread (the writer)."""

    def __init__(self, catalogue: Catalogue, *, window_s: int = 86_400,
                 clock: Callable[[], float] = time.time,
                 db: sqlite3.Connection | None = None) -> None:
        self.cat, self.window_s, self.clock, self.db = catalogue, window_s, clock, db
        self._st: dict[str, StationState] = {}
        self._dirty: set[str] = set()
        self.lock = threading.RLock()  # the writer feeds, any thread reports
        self._period = {s.id: format_period(s.interval_s) for s in catalogue.stations.values()}
        self._grid = {s.id: s.interval_s for s in catalogue.stations.values()
                      if s.kind == "hydro" and s.interval_s > 0}
        if db is not None:
            db.execute(_SCHEMA)
            for sid, text in db.execute("SELECT station, state FROM tracker"):
                self._st[sid] = StationState.from_json(text)

    # -- feeding ---------------------------------------------------------------------
    def observe(self, station: str, seq: int, readings: Iterable) -> None:
        with self.lock:
            st = self._st.get(station)
            if st is None:
                st = self._st[station] = StationState()
            self._dirty.add(station)
            self._seq(st, seq)
            period, grid = self._period.get(station), self._grid.get(station)
            horizon = int(self.clock()) - self.window_s
            for r in readings:
                ts = int(r.ts.timestamp())
                if ts < st.max_ts:
                    st.late += 1
                else:
                    st.max_ts = ts
                if ts >= horizon and (r.period == period or (
                        grid and r.period == "PT0S" and ts % grid == 0)):
                    st.recent.add(ts)
            if len(st.recent) > 4 * self.window_s // 60 + 64:   # bound clock-skewed streams
                st.recent = {t for t in st.recent if t >= horizon}

    def _seq(self, st: StationState, seq: int) -> None:
        if seq > st.max_seq:
            if st.max_seq >= 0 and seq > st.max_seq + 1:
                st.gaps.append([st.max_seq + 1, seq - 1])
                st.missing_total += seq - 1 - st.max_seq
                del st.gaps[:-MAX_GAPS]
            st.max_seq = seq
            return
        for i, (lo, hi) in enumerate(st.gaps):
            if lo <= seq <= hi:
                st.filled_total += 1
                parts = [[lo, seq - 1]] if seq > lo else []
                parts += [[seq + 1, hi]] if seq < hi else []
                st.gaps[i:i + 1] = parts
                return
        if seq == 0 and st.max_seq > 0:
            st.resets += 1
            st.max_seq = 0
            return
        st.duplicates += 1

    def save(self) -> None:
        """Persist the stations changed since the last save (one transaction)."""
        with self.lock:
            if self.db is None or not self._dirty:
                return
            horizon = int(self.clock()) - self.window_s
            rows = []
            for sid in self._dirty:
                st = self._st[sid]
                if st.recent and min(st.recent) < horizon:
                    st.recent = {t for t in st.recent if t >= horizon}
                rows.append((sid, st.to_json()))
            with self.db:
                self.db.executemany("INSERT OR REPLACE INTO tracker (station, state) VALUES (?, ?)",
                                    rows)
            self._dirty.clear()

        # -- reporting -------------------------------------------------------------------
    def gaps(self, station: str) -> list[tuple[int, int]]:
        """Open missing-seq ranges (first, last), oldest first."""
        with self.lock:
            st = self._st.get(station)
            return [tuple(g) for g in st.gaps] if st else []

    def completeness(self, station: str, window_s: int | None = None) -> float | None:
        """% of expected readings received over the window ending now (None: unknown)."""
        with self.lock:
            s = self.cat.stations.get(station)
            if s is None:
                return None
            window = min(window_s or self.window_s, self.window_s)
            now = int(self.clock())
            expected = window // s.interval_s
            if expected <= 0:
                return None
            st = self._st.get(station)
            got = sum(1 for t in st.recent if now - window <= t < now) if st else 0
            return round(100.0 * min(got, expected) / expected, 2)

    def report(self, station: str) -> dict:
        with self.lock:
            st = self._st.get(station) or StationState()
            return {"station": station, "max_seq": st.max_seq, "gaps": self.gaps(station),
                    "missing_total": st.missing_total, "filled_total": st.filled_total,
                    "duplicates": st.duplicates, "late": st.late, "resets": st.resets,
                    "completeness_pct": self.completeness(station)}

    def series(self, station: str) -> tuple[int, list[int]]:
        """(interval seconds, sorted slot times seen in the window) of a station's series."""
        with self.lock:
            s = self.cat.stations.get(station)
            st = self._st.get(station)
            if s is None or st is None:
                return 0, []
            horizon = int(self.clock()) - self.window_s
            return s.interval_s, sorted(t for t in st.recent if t >= horizon)

    def stations(self) -> list[str]:
        with self.lock:
            return sorted(self._st)

    def totals(self) -> dict[str, int]:
        with self.lock:
            out = {"open_gaps": 0, "missing_open": 0, "missing_total": 0, "duplicates": 0,
                   "late": 0}
            for st in self._st.values():
                out["open_gaps"] += len(st.gaps)
                out["missing_open"] += sum(hi - lo + 1 for lo, hi in st.gaps)
                out["missing_total"] += st.missing_total
                out["duplicates"] += st.duplicates
                out["late"] += st.late
            return out
