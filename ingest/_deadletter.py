"""The dead-letter store: messages (or single readings) that will never be stored.

A table ``dead_letters`` in the ingest state file (SQLite, WAL): payload, topic, reason,
detail, station, time. Written by the writer thread *before* the message is acknowledged.
The table is capped at ``max_rows`` (oldest rows go first); counts live in the metrics.
"""
from __future__ import annotations

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
"""

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
    db.execute("PRAGMA synchronous=NORMAL")
    return db


class DeadLetters:
    """Append-only (capped) dead-letter table; one instance per ingest process."""

    def __init__(self, db: sqlite3.Connection, *, max_rows: int = 100_000,
                 payload_bytes: int = 65_536) -> None:
        self.db, self.max_rows, self.payload_bytes = db, max_rows, payload_bytes
        self.db.executescript(_SCHEMA)
        self._since_prune = 0

    def add(self, letters: Iterable[DeadLetter]) -> int:
        rows = [(d.received_at, d.topic[:512], d.station, d.reason, d.detail[:1000],
                 bytes(d.payload[:self.payload_bytes]), len(d.payload)) for d in letters]
        if not rows:
            return 0
        with self.db:
            self.db.executemany(
                "INSERT INTO dead_letters (received_at, topic, station, reason, detail, payload,"
                " payload_size) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        self._since_prune += len(rows)
        if self._since_prune >= max(100, self.max_rows // 10):
            self._prune()
        return len(rows)

    def _prune(self) -> None:
        self._since_prune = 0
        with self.db:
            self.db.execute("DELETE FROM dead_letters WHERE id <= (SELECT max(id) FROM "
                            "dead_letters) - ?", (self.max_rows,))


def list_dead_letters(path: str | Path, *, reason: str | None = None,
                      station: str | None = None, since: float | None = None,
                      limit: int = 100, with_payload: bool = True) -> list[dict]:
    """The newest dead letters first, as dicts (what the API will expose)."""
    if not Path(path).exists():
        return []
    sql, args = "SELECT id, received_at, topic, station, reason, detail, payload_size", []
    sql += ", payload" if with_payload else ""
    sql += " FROM dead_letters WHERE 1=1"
    for col, op, val in (("reason", "=", reason), ("station", "=", station),
                         ("received_at", ">=", since)):
        if val is not None:
            sql += f" AND {col} {op} ?"
            args.append(val)
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
