"""Ecological-flow targets as a time-varying table: (section, valid from, months, target).

The packaged table (``targets.json``) holds DOMAIN.md's placeholders and seeds the state
database on first use; an authorised user replaces rows through the API or a file, every
change written to an append-only audit table.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from importlib import resources
from pathlib import Path

import sqlalchemy as sa

from core.catalogue import Catalogue

_meta = sa.MetaData()
targets_t = sa.Table(
    "ecoflow_targets", _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("section", sa.String(40), nullable=False),
    sa.Column("valid_from", sa.Date, nullable=False),
    sa.Column("months", sa.String(40), nullable=True),
    sa.Column("target_m3s", sa.Float, nullable=False),
    sa.Column("source", sa.String(300), nullable=False),
    sa.Column("placeholder", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.String(100), nullable=False),
)
audit_t = sa.Table(
    "ecoflow_targets_audit", _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("who", sa.String(100), nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
)


class TargetError(ValueError):
    """A target row is invalid (unknown section, bad months, negative target)."""


@dataclass(frozen=True)
class Target:
    section: str
    valid_from: date
    months: tuple[int, ...] | None
    target_m3s: float
    source: str
    placeholder: bool

    def applies(self, day: date) -> bool:
        return day >= self.valid_from and (self.months is None or day.month in self.months)


def _months(value) -> tuple[int, ...] | None:
    if value in (None, "", []):
        return None
    items = value.split(",") if isinstance(value, str) else value
    try:
        months = tuple(sorted({int(m) for m in items}))
    except (TypeError, ValueError):
        raise TargetError(f"bad months {value!r}") from None
    if not all(1 <= m <= 12 for m in months):
        raise TargetError(f"months must be 1..12, got {value!r}")
    return months


def parse_target(row: dict, cat: Catalogue) -> Target:
    section = row.get("section")
    if section not in cat.sections:
        raise TargetError(f"unknown section {section!r}")
    try:
        valid_from = date.fromisoformat(str(row["valid_from"]))
        target = float(row["target_m3s"])
    except (KeyError, ValueError) as exc:
        raise TargetError(f"bad target row {row!r}: {exc}") from None
    if not target >= 0:
        raise TargetError("target_m3s must be >= 0")
    return Target(section, valid_from, _months(row.get("months")), target,
                  str(row.get("source") or "unspecified"), bool(row.get("placeholder", False)))


def packaged_targets(cat: Catalogue) -> list[Target]:
    doc = json.loads(resources.files(__package__).joinpath("targets.json").read_text("utf-8"))
    return [parse_target(r, cat) for r in doc["targets"]]


class TargetTable:
    """Targets looked up by (section, day): the applicable row with the latest valid_from."""

    def __init__(self, targets: list[Target]) -> None:
        self._by_section: dict[str, list[Target]] = {}
        for t in sorted(targets, key=lambda t: t.valid_from, reverse=True):
            self._by_section.setdefault(t.section, []).append(t)

    def target(self, section: str, day: date) -> Target | None:
        return next((t for t in self._by_section.get(section, ()) if t.applies(day)), None)

    def sections(self) -> list[str]:
        return list(self._by_section)

    def rows(self) -> list[Target]:
        return [t for ts in self._by_section.values() for t in ts]


class TargetStore:
    """The target table in the state database (SQLite or PostgreSQL), audited."""

    def __init__(self, state_url: str, cat: Catalogue) -> None:
        self.cat = cat
        self.engine = sa.create_engine(state_url.replace("postgresql://",
                                                         "postgresql+psycopg2://", 1))
        _meta.create_all(self.engine)
        with self.engine.begin() as c:
            if not c.execute(sa.select(sa.func.count()).select_from(targets_t)).scalar():
                for t in packaged_targets(cat):
                    self._insert(c, t, "packaged")

    def _insert(self, c, t: Target, who: str) -> None:
        months = ",".join(map(str, t.months)) if t.months else None
        c.execute(targets_t.insert().values(
            section=t.section, valid_from=t.valid_from, months=months, target_m3s=t.target_m3s,
            source=t.source, placeholder=t.placeholder,
            created_at=datetime.now(timezone.utc), created_by=who))
        c.execute(audit_t.insert().values(
            at=datetime.now(timezone.utc), who=who, action="set", detail=json.dumps({
                "section": t.section, "valid_from": t.valid_from.isoformat(), "months": months,
                "target_m3s": t.target_m3s, "source": t.source}, ensure_ascii=False)))

    def set(self, row: dict, who: str) -> Target:
        t = parse_target(row, self.cat)
        with self.engine.begin() as c:
            self._insert(c, t, who)
        return t

    def load_file(self, path: Path, who: str) -> int:
        """Add every row of a JSON file shaped like the packaged targets.json."""
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        rows = [parse_target(r, self.cat) for r in doc.get("targets", doc)]
        with self.engine.begin() as c:
            for t in rows:
                self._insert(c, t, who)
        return len(rows)

    def table(self) -> TargetTable:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(targets_t).order_by(targets_t.c.id)).mappings().all()
        latest: dict[tuple, Target] = {}
        for r in rows:  # a later row for the same (section, valid_from, months) replaces it
            t = Target(r["section"], r["valid_from"], _months(r["months"]), r["target_m3s"],
                       r["source"], r["placeholder"])
            latest[(t.section, t.valid_from, t.months)] = t
        return TargetTable(list(latest.values()))

    def audit(self) -> list[dict]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(audit_t).order_by(audit_t.c.id)).mappings().all()
        return [dict(r) for r in rows]
