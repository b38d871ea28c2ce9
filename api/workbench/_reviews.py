"""Reviews of screening findings in the state database (SQLite or PostgreSQL), append-only:
every review is a new row (who, when, verdict, note), so the table is its own audit trail;
the latest row of a finding is its current state."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Callable

import sqlalchemy as sa

from core.statedb import UTC, make_engine

VERDICTS = ("reviewed", "false_alarm", "confirmed")
FINDING_ID = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_-]{0,31}):([a-z0-9_]{1,20}):([a-z0-9_]{1,30}):"
                        r"(\d{8}T\d{2}Z)$")
_meta = sa.MetaData()
reviews_t = sa.Table(
    "workbench_reviews", _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("finding", sa.String(100), nullable=False, index=True),
    sa.Column("station", sa.String(40), nullable=False),
    sa.Column("param", sa.String(20), nullable=False),
    sa.Column("rule", sa.String(30), nullable=False),
    sa.Column("verdict", sa.String(20), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("reviewer", sa.String(100), nullable=False),
    sa.Column("at", UTC, nullable=False),
)


class ReviewError(ValueError):
    """A review names a malformed finding id or an unknown verdict."""


class ReviewStore:
    def __init__(self, state: str | sa.engine.Engine,
                 clock: Callable[[], datetime] | None = None) -> None:
        """``state``: the state URL, or an engine on it (the API's key store's)."""
        self.engine = make_engine(state) if isinstance(state, str) else state
        _meta.create_all(self.engine)
        self.clock = clock or (lambda: datetime.now(timezone.utc))

    def review(self, finding: str, note: str, reviewer: str, verdict: str = "reviewed"
               ) -> dict:
        m = FINDING_ID.match(finding or "")
        if m is None:
            raise ReviewError(f"bad finding id {finding!r} (station:param:rule:yyyymmddThhZ)")
        if verdict not in VERDICTS:
            raise ReviewError(f"verdict must be one of {', '.join(VERDICTS)}")
        row = {"finding": finding, "station": m.group(1), "param": m.group(2),
               "rule": m.group(3), "verdict": verdict, "note": note.strip(),
               "reviewer": reviewer, "at": self.clock()}
        with self.engine.begin() as c:
            row["id"] = c.execute(reviews_t.insert().values(**row)).inserted_primary_key[0]
        return _out(row)

    def history(self, finding: str) -> list[dict]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(reviews_t).where(reviews_t.c.finding == finding)
                             .order_by(reviews_t.c.id)).mappings().all()
        return [_out(dict(r)) for r in rows]

    def latest(self, findings: list[str]) -> dict[str, dict]:
        """The current review of each of ``findings`` that has one."""
        if not findings:
            return {}
        out: dict[str, dict] = {}
        with self.engine.connect() as c:
            for i in range(0, len(findings), 500):
                rows = c.execute(sa.select(reviews_t)
                                 .where(reviews_t.c.finding.in_(findings[i:i + 500]))
                                 .order_by(reviews_t.c.id)).mappings().all()
                for r in rows:
                    out[r["finding"]] = _out(dict(r))
        return out

    def close(self) -> None:
        self.engine.dispose()


def _out(row: dict) -> dict:
    at = row["at"]
    return {**row, "at": at.isoformat() if isinstance(at, datetime) else at}


def attach(result: dict, reviews: ReviewStore | None) -> dict:
    """``result``'s findings each with ``review`` (its latest, or None)."""
    latest = reviews.latest([f["id"] for f in result["findings"]]) if reviews else {}
    for f in result["findings"]:
        f["review"] = latest.get(f["id"])
    return result
