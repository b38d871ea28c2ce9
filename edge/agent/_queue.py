"""The durable on-disk queue (SQLite in WAL mode) between field devices and the broker.

A reading is committed (``synchronous=FULL``: the commit is on disk when ``put`` returns, even
across a power cut) before the device gets its acknowledgement. It leaves the queue only when the
broker has acknowledged the PUBLISH that carried it. Readings are grouped into messages with a
per-station ``seq`` in one transaction with the seq counter, so a message re-sent after a crash
keeps its seq and the counter never goes back.

One instance is shared by the field side and the broker side (calls are serialised by a lock;
the depth is counted in memory, so one process owns the file).
Bounds: ``max_readings`` and ``max_mb`` with a policy when full (``drop_oldest`` drops the oldest
readings and counts them; ``reject_new`` refuses the new ones), and ``max_age`` (seconds in the
queue) applied by :meth:`expire`.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import QueueFullError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  station TEXT NOT NULL,
  ts REAL NOT NULL,
  period TEXT NOT NULL,
  enq REAL NOT NULL,
  seq INTEGER,
  body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS queue_station ON queue(station, id);
CREATE TABLE IF NOT EXISTS seqs(station TEXT PRIMARY KEY, next INTEGER NOT NULL);
"""
_PAGE = 4096


@dataclass(frozen=True, slots=True)
class Row:
    """A queued reading: ``body`` is its wire-format JSON object as text."""

    id: int
    station: str
    ts: float
    period: str
    body: str


@dataclass(frozen=True, slots=True)
class Message:
    """Readings of one station assigned to one readings message."""

    station: str
    seq: int
    ids: tuple[int, ...]
    bodies: tuple[str, ...]

    def payload(self) -> bytes:
        head = '{"v":1,"station":"%s","seq":%d,"readings":[' % (self.station, self.seq)
        return (head + ",".join(self.bodies) + "]}").encode("utf-8")


@dataclass(frozen=True, slots=True)
class PutResult:
    stored: int
    dropped_oldest: int = 0


class DurableQueue:
    def __init__(self, path: str | Path, *, max_readings: int = 2_000_000, max_mb: int = 0,
                 policy: str = "drop_oldest", synchronous: str = "FULL",
                 clock=time.time) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(path)
        self.max_readings, self.policy, self._clock = max_readings, policy, clock
        self._db = sqlite3.connect(str(path), timeout=30.0, isolation_level=None,
                                   check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute(f"PRAGMA page_size={_PAGE}")  # before the first table is created
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        if max_mb:
            self._db.execute(f"PRAGMA max_page_count={max_mb * 1024 * 1024 // _PAGE}")
        self._db.executescript(_SCHEMA)
        self._count = self._db.execute("SELECT COUNT(*) FROM queue").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- writing (field side) -------------------------------------------------------------

    def put(self, rows: list[tuple[str, float, str, str]]) -> PutResult:
        """Store ``(station, ts, period, body)`` rows durably, applying the bound policy.

        Raises :class:`QueueFullError` when the policy is ``reject_new`` and they do not fit.
        """
        if not rows:
            return PutResult(0)
        with self._lock:
            try:
                return self._put(rows)
            except sqlite3.OperationalError as exc:
                if "full" not in str(exc).lower():
                    raise
            # SQLITE_FULL: the file bound (max_mb) or the disk itself
            if self.policy != "drop_oldest":
                raise QueueFullError("queue file full")
            dropped = self._drop_oldest(max(len(rows), self._depth() // 100, 100))
            try:
                return PutResult(self._put(rows).stored, dropped)
            except sqlite3.OperationalError as exc:
                raise QueueFullError(f"queue file full: {exc}") from None

    def _put(self, rows) -> PutResult:
        now = self._clock()
        depth = self._depth()
        excess = depth + len(rows) - self.max_readings
        if excess > 0 and self.policy == "reject_new":
            raise QueueFullError(f"queue holds {depth} of {self.max_readings} readings")
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            dropped = 0
            if excess > 0:
                dropped = db.execute("DELETE FROM queue WHERE id IN (SELECT id FROM queue "
                                     "ORDER BY id LIMIT ?)", (excess,)).rowcount
            db.executemany("INSERT INTO queue(station, ts, period, enq, body) VALUES (?,?,?,?,?)",
                           [(s, ts, p, now, b) for s, ts, p, b in rows])
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise
        self._count += len(rows) - dropped
        return PutResult(len(rows), dropped)

    def _drop_oldest(self, n: int) -> int:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            dropped = db.execute("DELETE FROM queue WHERE id IN (SELECT id FROM queue "
                                 "ORDER BY id LIMIT ?)", (n,)).rowcount
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise
        self._count -= dropped
        return dropped

    def expire(self, max_age_s: float) -> int:
        """Drop readings queued longer than ``max_age_s``; return how many."""
        with self._lock:
            n = self._db.execute("DELETE FROM queue WHERE enq < ?",
                                 (self._clock() - max_age_s,)).rowcount
            self._count -= n
            return n

    # -- reading (broker side) -------------------------------------------------------------

    def assigned(self, station: str) -> list[Message]:
        """Messages assigned earlier but not acknowledged (after a restart), oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT seq, id, body FROM queue WHERE station=? AND seq "
                                    "IS NOT NULL ORDER BY seq, id", (station,)).fetchall()
        out: dict[int, list] = {}
        for seq, rid, body in rows:
            out.setdefault(seq, []).append((rid, body))
        return [Message(station, seq, tuple(r for r, _ in items), tuple(b for _, b in items))
                for seq, items in out.items()]

    def take(self, station: str, messages: int, batch_max: int,
             max_bytes: int = 240_000) -> list[Message]:
        """Assign up to ``messages`` new messages of the oldest unassigned readings (in order).

        A message ends at ``batch_max`` readings, ``max_bytes`` of payload, or before a reading
        whose (ts, period) it already holds (the wire format refuses duplicates in one message).
        """
        with self._lock:
            rows = self._db.execute(
                "SELECT id, ts, period, body FROM queue WHERE station=? AND seq IS NULL "
                "ORDER BY id LIMIT ?", (station, messages * batch_max)).fetchall()
            if not rows:
                return []
            groups = _split(rows, messages, batch_max, max_bytes)
            return self._assign(station, groups)

    def _assign(self, station: str, groups: list[list[tuple]]) -> list[Message]:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT next FROM seqs WHERE station=?", (station,)).fetchone()
            seq = row[0] if row else 0
            out = []
            for group in groups:
                db.executemany("UPDATE queue SET seq=? WHERE id=?", [(seq, r[0]) for r in group])
                out.append(Message(station, seq, tuple(r[0] for r in group),
                                   tuple(r[3] for r in group)))
                seq += 1
            db.execute("INSERT INTO seqs(station, next) VALUES (?, ?) ON CONFLICT(station) "
                       "DO UPDATE SET next=excluded.next", (station, seq))
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise
        return out

    def ack(self, ids: list[int]) -> int:
        """The broker acknowledged these readings: remove them. Returns how many were there."""
        if not ids:
            return 0
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                n = 0
                for i in range(0, len(ids), 900):
                    chunk = ids[i:i + 900]
                    n += db.execute(f"DELETE FROM queue WHERE id IN ({','.join('?' * len(chunk))})",
                                    chunk).rowcount
                db.execute("COMMIT")
            except BaseException:
                _rollback(db)
                raise
            self._count -= n
            return n

    # -- inspection ------------------------------------------------------------------------

    def _depth(self) -> int:
        return self._count

    def depth(self, station: str | None = None) -> int:
        with self._lock:
            if station is None:
                return self._depth()
            return self._db.execute("SELECT COUNT(*) FROM queue WHERE station=?",
                                    (station,)).fetchone()[0]

    def oldest_ts(self, station: str | None = None) -> float | None:
        """Timestamp (epoch s) of the oldest queued reading's ``ts`` (by queue order)."""
        with self._lock:
            if station is None:
                row = self._db.execute("SELECT ts FROM queue ORDER BY id LIMIT 1").fetchone()
            else:
                row = self._db.execute("SELECT ts FROM queue WHERE station=? ORDER BY id "
                                       "LIMIT 1", (station,)).fetchone()
        return row[0] if row else None

    def next_seq(self, station: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT next FROM seqs WHERE station=?", (station,)).fetchone()
        return row[0] if row else 0


def _split(rows, messages: int, batch_max: int, max_bytes: int) -> list[list[tuple]]:
    groups: list[list[tuple]] = []
    cur: list[tuple] = []
    keys: set = set()
    size = 0
    for row in rows:
        key = (row[1], row[2])
        if cur and (len(cur) >= batch_max or size + len(row[3]) > max_bytes or key in keys):
            groups.append(cur)
            if len(groups) >= messages:
                return groups
            cur, keys, size = [], set(), 0
        cur.append(row)
        keys.add(key)
        size += len(row[3]) + 1
    if cur:
        groups.append(cur)
    return groups[:messages]


def _rollback(db: sqlite3.Connection) -> None:
    """Roll back, unless SQLite already did (it does on SQLITE_FULL)."""
    if db.in_transaction:
        db.execute("ROLLBACK")
