"""The dead-letter store: messages (or single readings) that will never be stored as they are.

A table ``dead_letters`` in the ingest state file (SQLite, WAL, ``synchronous=FULL``: a row is
written by the writer thread *before* the message is acknowledged, so it must survive a power
loss). Rows leave the table in two explicit ways only:

* ``remove(ids)``: a replay stored them (``fenwei ingest dead-letters replay``), or an operator
  purged them;
* ``expire(now)``: rows older than ``max_age_s`` (an explicit setting), counted and logged.

Nothing is pruned by count: when ``max_rows`` rows are kept, ``add`` raises
:class:`DeadLettersFull` (the ingest then holds the batch unacknowledged, shows the stall and
retries) until rows are replayed, purged or expire.
"""
from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at REAL NOT NULL,
    topic TEXT NOT NULL,
    station TEXT,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    payload BLOB NOT NULL,
    payload_size INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_reason ON dead_letters (reason, id);
CREATE INDEX IF NOT EXISTS dead_letters_received ON dead_letters (received_at);
"""
log = logging.getLogger(__name__)
DEFAULT_MAX_AGE_S = 30 * 86_400
DEFAULT_MAX_ROWS = 1_000_000


class DeadLettersFull(Exception):
    """The dead-letter table holds its bound of rows: refused, never pruned to make room."""


# reasons added by the ingest service to the decoder's core.wire.REASONS
INGEST_REASONS = {
    "flood": "the station sent more messages than its token bucket allows",
    "field_type_conflict": "InfluxDB refused a field whose type differs from the stored one",
    "beyond_retention": "the reading is older than the retention period",
    "store_rejected": "the store refused the reading for another reason",
}


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    reason: str
    detail: str
    payload: bytes
    station: str | None = None
    received_at: float = field(default_factory=time.time)


def connect(path: str | Path) -> sqlite3.Connection:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")  # rows stand for acknowledged messages
    return db


class DeadLetters:
    """The dead-letter table: bounded by age (``expire``) and refused at ``max_rows``."""

    def __init__(self, db: sqlite3.Connection, *, max_rows: int = DEFAULT_MAX_ROWS,
                 max_age_s: float | None = DEFAULT_MAX_AGE_S,
                 payload_bytes: int = 65_536) -> None:
        self.db, self.max_rows, self.payload_bytes = db, max_rows, payload_bytes
        self.max_age_s = max_age_s
        self.db.executescript(_SCHEMA)
        self.expired = 0          # rows removed by age by this instance
        self.kept = self.count()  # cached; a replay in another process lowers it unseen

    def add(self, letters: Iterable[DeadLetter]) -> int:
        """Insert in one transaction; raises DeadLettersFull past ``max_rows``."""
        rows = [(d.received_at, d.topic[:512], d.station, d.reason, d.detail[:1000],
                 bytes(d.payload[:self.payload_bytes]), len(d.payload)) for d in letters]
        if not rows:
            return 0
        if self.kept + len(rows) > self.max_rows and self.count() + len(rows) > self.max_rows:
            raise DeadLettersFull(f"{self.kept} dead letters kept, bound {self.max_rows}: replay, "
                                  "purge or raise dead_letter_max_rows")
        with self.db:
            self.db.executemany(
                "INSERT INTO dead_letters (received_at, topic, station, reason, detail, payload,"
                " payload_size) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        self.kept += len(rows)
        return len(rows)

    def count(self) -> int:
        """Rows kept (counted now; also refreshes ``kept``)."""
        self.kept = self.db.execute("SELECT count(*) FROM dead_letters").fetchone()[0]
        return self.kept

    def expire(self, now: float | None = None) -> int:
        """Delete the rows older than ``max_age_s`` (None: keep forever); how many."""
        if self.max_age_s is None:
            return 0
        cutoff = (time.time() if now is None else now) - self.max_age_s
        with self.db:
            n = self.db.execute("DELETE FROM dead_letters WHERE received_at < ?",
                                (cutoff,)).rowcount
        if n:
            self.expired += n
            self.kept -= n
            log.warning("%d dead letters older than %.0f days expired", n,
                        self.max_age_s / 86400)
        return n

    def rows(self, *, reason: str | None = None, since: float | None = None,
             after_id: int = 0, limit: int = 500) -> list[dict]:
        """Oldest first, with payloads, from ``after_id`` on (for a replay in pages)."""
        sql, args = _where(reason, None, since)
        cur = self.db.execute(
            "SELECT id, received_at, topic, station, reason, detail, payload_size, payload "
            f"FROM dead_letters WHERE id > ?{sql} ORDER BY id LIMIT ?",
            [after_id, *args, limit])
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def remove(self, ids: Iterable[int]) -> int:
        ids = list(ids)
        with self.db:
            n = self.db.executemany("DELETE FROM dead_letters WHERE id = ?",
                                    [(i,) for i in ids]).rowcount
        self.kept -= n
        return n


def _where(reason: str | None, station: str | None, since: float | None) -> tuple[str, list]:
    sql, args = "", []
    for col, op, val in (("reason", "=", reason), ("station", "=", station),
                         ("received_at", ">=", since)):
        if val is not None:
            sql += f" AND {col} {op} ?"
            args.append(val)
    return sql, args


def list_dead_letters(path: str | Path, *, reason: str | None = None,
                      station: str | None = None, since: float | None = None,
                      limit: int = 100, with_payload: bool = True) -> list[dict]:
    """The newest dead letters first, as dicts (what the API will expose)."""
    if not Path(path).exists():
        return []
    sql = "SELECT id, received_at, topic, station, reason, detail, payload_size"
    sql += ", payload" if with_payload else ""
    where, args = _where(reason, station, since)
    sql += " FROM dead_letters WHERE 1=1" + where
    sql += " ORDER BY id DESC LIMIT ?"
    args.append(max(0, int(limit)))
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        db.row_factory = sqlite3.Row
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name='dead_letters'").fetchone():
            return []
        return [dict(r) for r in db.execute(sql, args)]
    finally:
        db.close()


def count_dead_letters(path: str | Path) -> dict[str, int]:
    """Rows kept per reason."""
    if not Path(path).exists():
        return {}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name='dead_letters'").fetchone():
            return {}
        return dict(db.execute("SELECT reason, count(*) FROM dead_letters GROUP BY reason"))
    finally:
        db.close()
