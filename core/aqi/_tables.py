"""Breakpoint tables and categories, loaded from ``breakpoints.json`` and validated at import."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from importlib import resources
from typing import Any

import numpy as np

from core.timeutil import CST

from .errors import InputError, TableError

TABLE_NAMES = (
    "so2_24h", "so2_1h", "no2_24h", "no2_1h", "pm10_24h",
    "co_24h", "co_1h", "o3_1h", "o3_8h", "pm25_24h",
)
IAQI_MAX = 500


@dataclass(frozen=True)
class Table:
    """One breakpoint row: concentrations ``bp`` for IAQI values ``iaqi`` (same length)."""

    name: str
    unit: str
    bp: np.ndarray
    iaqi: np.ndarray
    beyond_top: str  # "cap" or the name of the table whose IAQI replaces this one


@dataclass(frozen=True)
class Edition:
    """A set of tables in force from ``valid_from`` (None = from the beginning of time)."""

    id: str
    title: str
    valid_from: datetime | None
    source: str
    verified: bool
    tables: dict[str, Table]


@dataclass(frozen=True)
class Category:
    """An AQI category (HJ 633 Table 2)."""

    level: int
    max_aqi: int | None
    roman: str
    zh: str
    en: str
    colour: str
    colour_name: str


def _parse_table(where: str, name: str, raw: dict[str, Any], iaqi: list[int]) -> Table:
    bp = raw.get("breakpoints")
    if not isinstance(bp, list) or not 2 <= len(bp) <= len(iaqi):
        raise TableError(where, f"needs 2..{len(iaqi)} breakpoints")
    if bp[0] != 0 or any(hi <= lo for lo, hi in zip(bp, bp[1:])):
        raise TableError(where, "breakpoints must start at 0 and increase strictly")
    beyond = raw.get("beyond_top")
    if beyond != "cap" and beyond not in TABLE_NAMES:
        raise TableError(where, f"beyond_top {beyond!r} is neither 'cap' nor a table name")
    if beyond == "cap" and len(bp) != len(iaqi):
        raise TableError(where, "a capped table must reach IAQI 500")
    return Table(
        name=name,
        unit=str(raw.get("unit", "")),
        bp=np.asarray(bp, dtype=float),
        iaqi=np.asarray(iaqi[: len(bp)], dtype=float),
        beyond_top=beyond,
    )


def _parse_valid_from(where: str, raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise TableError(where, f"valid_from {raw!r} is not ISO 8601") from exc
    if value.tzinfo is None:
        raise TableError(where, "valid_from needs an explicit UTC offset")
    return value


def _parse_edition(raw: dict[str, Any], iaqi: list[int]) -> Edition:
    eid = str(raw.get("id", "?"))
    where = f"edition {eid}"
    tables = raw.get("tables", {})
    missing = set(TABLE_NAMES) - set(tables)
    if missing:
        raise TableError(where, f"missing tables {sorted(missing)}")
    if not raw.get("source"):
        raise TableError(where, "every edition must record its source")
    parsed = {n: _parse_table(f"{where} {n}", n, tables[n], iaqi) for n in TABLE_NAMES}
    for t in parsed.values():
        if t.beyond_top != "cap" and parsed[t.beyond_top].beyond_top != "cap":
            raise TableError(f"{where} {t.name}", "a substitute table must itself be capped")
    return Edition(
        id=eid,
        title=str(raw.get("title", "")),
        valid_from=_parse_valid_from(where, raw.get("valid_from")),
        source=str(raw["source"]),
        verified=bool(raw.get("verified", False)),
        tables=parsed,
    )


def _check_order(editions: list[Edition]) -> None:
    if not editions or editions[0].valid_from is not None:
        raise TableError("editions", "the first edition must have valid_from null")
    starts = [e.valid_from for e in editions[1:]]
    if any(s is None for s in starts) or starts != sorted(set(starts)):
        raise TableError("editions", "later editions need increasing, distinct valid_from")


def _parse_categories(raw: list[dict[str, Any]]) -> tuple[Category, ...]:
    cats = tuple(Category(**c) for c in raw)
    if [c.level for c in cats] != list(range(1, len(cats) + 1)) or cats[-1].max_aqi is not None:
        raise TableError("categories", "levels must run 1..n and the last be open-ended")
    return cats


def load(text: str) -> tuple[tuple[Edition, ...], tuple[Category, ...]]:
    """Parse and validate the JSON text of a breakpoint file."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise TableError("breakpoints.json", "not valid JSON") from exc
    iaqi = doc.get("iaqi")
    if iaqi != sorted(iaqi or []) or not iaqi or iaqi[0] != 0 or iaqi[-1] != IAQI_MAX:
        raise TableError("iaqi", "must increase from 0 to 500")
    editions = [_parse_edition(e, iaqi) for e in doc.get("editions", [])]
    _check_order(editions)
    return tuple(editions), _parse_categories(doc.get("categories", []))


EDITIONS, CATEGORIES = load(
    resources.files(__package__).joinpath("breakpoints.json").read_text(encoding="utf-8")
)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_STARTS_NS = np.array(
    [(e.valid_from - _EPOCH) // timedelta(microseconds=1) * 1000 for e in EDITIONS[1:]],
    dtype=np.int64,
)


def edition_index(ts_ns: np.ndarray) -> np.ndarray:
    """Index into EDITIONS of the edition in force at each UTC epoch-nanosecond time."""
    return np.searchsorted(_STARTS_NS, np.asarray(ts_ns, dtype=np.int64), side="right")


def edition_position(when: datetime) -> int:
    """Index into EDITIONS of the edition in force at an aware datetime."""
    if when.tzinfo is None:
        raise InputError("at", "needs a timezone")
    ns = (when - _EPOCH) // timedelta(microseconds=1) * 1000
    return int(edition_index(np.array([ns]))[0])


def edition_at(when: datetime) -> Edition:
    """The edition in force at an aware datetime (the start of the averaging period)."""
    return EDITIONS[edition_position(when)]
