"""AQI of one set of concentrations at one time (the engine on arrays of length 1)."""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np

from ._combine import combine, level_of
from ._grid import ALIASES
from ._iaqi import DAILY_TABLES, HOURLY_TABLES, grade
from ._tables import CATEGORIES, CST, EDITIONS, TABLE_NAMES, Category, edition_position
from .errors import InputError

Period = Literal["hourly", "daily"]
# Extra keys per period: o3 is the daily max 8 h mean for daily AQI; the substitutes are
# graded only when SO2 1 h or O3 8 h is above its top breakpoint.
_KEYS = {
    "hourly": {"o3_1h": "o3", "o3_8h": "o3_8h", "so2_24h": "so2_24h"},
    "daily": {"o3": "o3_8h", "o3_8h": "o3_8h", "o3_1h": "o3_1h"},
}
_SUBSTITUTES = {"so2_24h": ("so2", "so2_24h"), "o3_1h": ("o3_8h", "o3_1h")}
_NOTES = {
    "so2": "SO2 1 h > 800: its IAQI is the 24 h value's; pass so2_24h=V",
    "o3_8h": "O3 8 h > 800: its IAQI is the 1 h value's; pass o3_1h=V",
}


@dataclass(frozen=True)
class AqiResult:
    """IAQI per indicator and the AQI with its category; ``aqi`` is None when not gradable.

    ``aqi_lower_bound`` is what the graded indicators prove (the AQI is at least their
    largest IAQI; equal to ``aqi`` when nothing is missing) and ``missing`` names the
    indicators given as None (missing or flagged invalid) or not gradable.
    """

    aqi: int | None
    iaqi: dict[str, int | None]
    category: Category | None
    primary: tuple[str, ...]
    exceeding: tuple[str, ...]
    edition: str
    period: str
    notes: tuple[str, ...] = field(default=())
    aqi_lower_bound: int | None = None
    missing: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON shape: aqi, iaqi, category, level, colour, primary, exceeding,
        edition, aqi_lower_bound, missing."""
        cat = self.category
        return {
            "aqi": self.aqi,
            "iaqi": dict(self.iaqi),
            "category": cat.zh if cat else None,
            "level": cat.level if cat else None,
            "colour": cat.colour if cat else None,
            "primary": list(self.primary),
            "exceeding": list(self.exceeding),
            "edition": self.edition,
            "aqi_lower_bound": self.aqi_lower_bound,
            "missing": list(self.missing),
        }


def parse_at(at: datetime | str) -> datetime:
    """An aware datetime from ISO 8601 text or a datetime; no offset means CST."""
    if isinstance(at, str):
        try:
            at = datetime.fromisoformat(at.strip())
        except ValueError as exc:
            raise InputError("at", f"not ISO 8601: {at!r}") from exc
    return at if at.tzinfo is not None else at.replace(tzinfo=CST)


def _indicator(key: str, period: Period) -> str:
    k = key.strip().lower()
    name = _KEYS[period].get(k) or ALIASES.get(k)
    if name is None:
        raise InputError(key, f"unknown pollutant for {period} AQI")
    return name


def _normalise(values: Mapping[str, float | None], period: Period) -> dict[str, float]:
    """Canonical names; None (missing, or flagged invalid) becomes NaN, graded as missing."""
    out: dict[str, float] = {}
    for key, raw in values.items():
        name = _indicator(key, period)
        if name in out:
            raise InputError(key, f"{name} given twice")
        if raw is None:
            out[name] = math.nan
            continue
        value = float(raw)
        if not math.isfinite(value) or value < 0:
            raise InputError(key, f"concentration must be finite and >= 0, got {raw!r}")
        out[name] = value
    return out


def _split(conc: dict[str, float]) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    subs: dict[str, dict[str, float]] = {}
    for key, (target, table) in _SUBSTITUTES.items():
        if key in conc:
            subs[target] = {table: conc.pop(key)}
    if not conc:
        raise InputError("concentrations", "nothing to grade")
    if "o3" in conc and not math.isnan(conc["o3"]):  # hourly: the 1 h O3 stands in for an 8 h mean above 800
        subs.setdefault("o3_8h", {"o3_1h": conc["o3"]})
    return conc, subs


def _as_int(x: float) -> int | None:
    return None if math.isnan(x) else int(x)


def calculate(
    concentrations: Mapping[str, float | None], at: datetime | str, period: Period = "hourly"
) -> AqiResult:
    """Grade one set of concentrations observed at ``at`` (start of the averaging period).

    Keys: pm25 pm10 so2 no2 co o3 o3_8h (hourly) or pm25 pm10 so2 no2 co o3/o3_8h (daily:
    the daily max 8 h mean); optional substitutes so2_24h (hourly) and o3_1h. A value of
    None is an indicator without a valid value: ``aqi`` is then None (HJ 633) and
    ``aqi_lower_bound`` the largest IAQI of the others, with ``missing`` naming it.
    """
    if period not in _KEYS:
        raise InputError("period", "must be 'hourly' or 'daily'")
    pos = edition_position(parse_at(at))
    ed = np.array([pos])
    tables = HOURLY_TABLES if period == "hourly" else DAILY_TABLES
    conc, subs = _split(_normalise(concentrations, period))
    iaqi, unresolved = {}, {}
    for name, value in conc.items():
        sub = {k: np.array([v]) for k, v in subs.get(name, {}).items()}
        iaqi[name], unresolved[name] = grade(np.array([value]), tables[name], ed, sub)
    cols = combine(iaqi, unresolved)
    return _result(cols, iaqi, unresolved, EDITIONS[pos].id, period)


def _result(cols, iaqi, unresolved, edition: str, period: str) -> AqiResult:
    aqi = _as_int(float(cols["aqi"][0]))
    level = int(level_of(np.array([cols["aqi"][0]]))[0])
    notes = tuple(_NOTES[n] for n, m in unresolved.items() if m[0])
    return AqiResult(
        aqi_lower_bound=_as_int(float(cols["aqi_lower_bound"][0])),
        missing=tuple(filter(None, str(cols["missing"][0]).split(","))),
        aqi=aqi,
        iaqi={n: _as_int(float(v[0])) for n, v in iaqi.items()},
        category=CATEGORIES[level - 1] if level else None,
        primary=tuple(filter(None, str(cols["primary"][0]).split(","))),
        exceeding=tuple(filter(None, str(cols["exceeding"][0]).split(","))),
        edition=edition,
        period=period,
        notes=notes,
    )


def category_of(aqi: float) -> Category | None:
    """The category of an AQI value (None for NaN)."""
    level = int(level_of(np.array([aqi]))[0])
    return CATEGORIES[level - 1] if level else None


def iaqi(value: float, table: str, at: datetime | str) -> int | None:
    """IAQI of one concentration on one breakpoint table (e.g. ``pm25_24h``) at ``at``."""
    if table not in TABLE_NAMES:
        raise InputError("table", f"unknown table {table!r}; one of {TABLE_NAMES}")
    ed = np.array([edition_position(parse_at(at))])
    out, _ = grade(np.array([float(value)]), table, ed)
    return _as_int(float(out[0]))
