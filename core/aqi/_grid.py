"""Normalise a long or wide frame of hourly concentrations into dense station x hour arrays.

Accepted input (one row per station-hour or station-hour-pollutant):

* wide: ``station``, ``ts`` (or a DatetimeIndex), one column per pollutant
  (``pm25 pm10 so2 no2 co o3``; HJ 212 codes such as ``a34004`` are accepted) and
  optional ``<column>_flag`` columns;
* long: ``station``, ``ts`` (or a DatetimeIndex), ``pollutant``, ``value``, optional ``flag``.

``ts`` is timezone-aware, on the hour, and marks the START of the hour averaged.
A value counts only when its flag is valid (missing flag = N), it is finite and >= 0.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.flags import VALID_FLAGS

from .errors import InputError

POLLUTANTS = ("pm25", "pm10", "so2", "no2", "co", "o3")
ALIASES = {
    "pm2.5": "pm25", "pm2_5": "pm25", "a34004": "pm25", "a34002": "pm10",
    "a21026": "so2", "a21004": "no2", "a21005": "co", "a05024": "o3",
    **{p: p for p in POLLUTANTS},
}
HOUR_NS = 3_600_000_000_000
DAY_H = 24
CST_OFFSET_NS = 8 * HOUR_NS


@dataclass
class Grid:
    """Hourly values on a station x hour grid that starts and ends on CST midnights.

    ``values[p]`` is NaN wherever the pollutant has no valid value; ``above_range[p]``
    marks T-flagged values (kept and counted). ``first``/``last`` bound the hours
    that held any input row.
    """

    stations: pd.Index
    t0_ns: int
    values: dict[str, np.ndarray]
    above_range: dict[str, np.ndarray]
    first: int
    last: int

    @property
    def hours(self) -> int:
        return next(iter(self.values.values())).shape[1]

    def hour_ns(self, idx: np.ndarray) -> np.ndarray:
        """UTC epoch nanoseconds of hour indices."""
        return self.t0_ns + np.asarray(idx, dtype=np.int64) * HOUR_NS


def _times(frame: pd.DataFrame) -> np.ndarray:
    if "ts" in frame.columns:
        ts = pd.DatetimeIndex(frame["ts"])
    elif isinstance(frame.index, pd.DatetimeIndex):
        ts = frame.index
    else:
        raise InputError("ts", "need a 'ts' column or a DatetimeIndex")
    if ts.tz is None:
        raise InputError("ts", "timestamps must be timezone-aware (UTC)")
    ns = ts.tz_convert("UTC").as_unit("ns").asi8
    if len(ns) and (ns % HOUR_NS).any():
        raise InputError("ts", "timestamps must fall on the hour")
    return ns


def _valid_mask(flags: pd.Series | None, valid_flags: Iterable[str], n: int):
    if flags is None:
        return np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
    codes, uniques = pd.factorize(flags, use_na_sentinel=True)
    ok = np.array([str(u).upper() in valid_flags for u in uniques] + [True])
    above = np.array([str(u).upper() == "T" for u in uniques] + [False])
    return ok[codes], above[codes]


def _layout(ns: np.ndarray, stations: pd.Series):
    if stations is None:
        raise InputError("station", "need a 'station' column")
    s_idx, names = pd.factorize(stations, sort=True)
    if len(ns) == 0:
        raise InputError("frame", "no rows")
    t0 = (ns.min() + CST_OFFSET_NS) // (DAY_H * HOUR_NS) * (DAY_H * HOUR_NS) - CST_OFFSET_NS
    h_idx = (ns - t0) // HOUR_NS
    hours = (int(h_idx.max()) // DAY_H + 1) * DAY_H
    return s_idx, pd.Index(names, name="station"), int(t0), h_idx, hours


def _scatter(shape, s_idx, h_idx, values, ok, above, name):
    flat = s_idx * shape[1] + h_idx
    if np.bincount(flat, minlength=shape[0] * shape[1]).max(initial=0) > 1:
        raise InputError(name, "duplicate rows for one station and hour")
    grid = np.full(shape, np.nan)
    with np.errstate(invalid="ignore"):
        good = ok & np.isfinite(values) & (values >= 0)
    grid.ravel()[flat[good]] = values[good]
    flagged = np.zeros(shape, dtype=bool)
    flagged.ravel()[flat[good & above]] = True
    return grid, flagged


def _wide_columns(frame: pd.DataFrame) -> dict[str, str]:
    found = {}
    for col in frame.columns:
        name = ALIASES.get(str(col).lower())
        if name is not None:
            found[name] = col
    return found


def to_grid(frame: pd.DataFrame, valid_flags: Iterable[str] = VALID_FLAGS) -> Grid:
    """Build a :class:`Grid` from a long or wide frame (see module docstring)."""
    valid = frozenset(f.upper() for f in valid_flags)
    ns = _times(frame)
    s_idx, stations, t0, h_idx, hours = _layout(ns, frame.get("station"))
    shape = (len(stations), hours)
    values, above = {}, {}
    if {"pollutant", "value"} <= set(frame.columns):
        parts = _long_parts(frame, valid)
    else:
        parts = _wide_parts(frame, valid)
    for name, rows, vals, ok, t_flag in parts:
        values[name], above[name] = _scatter(shape, s_idx[rows], h_idx[rows], vals, ok, t_flag, name)
    for name in POLLUTANTS:
        values.setdefault(name, np.full(shape, np.nan))
        above.setdefault(name, np.zeros(shape, dtype=bool))
    return Grid(stations, t0, values, above, int(h_idx.min()), int(h_idx.max()))


def _wide_parts(frame: pd.DataFrame, valid: frozenset[str]):
    everything = np.arange(len(frame))
    for name, col in _wide_columns(frame).items():
        flags = frame.get(f"{col}_flag")
        ok, t_flag = _valid_mask(flags, valid, len(frame))
        yield name, everything, frame[col].to_numpy(dtype=float, na_value=np.nan), ok, t_flag


def _long_parts(frame: pd.DataFrame, valid: frozenset[str]):
    codes, uniques = pd.factorize(frame["pollutant"])
    names = [ALIASES.get(str(u).lower()) for u in uniques]
    unknown = [str(u) for u, n in zip(uniques, names) if n is None]
    if unknown:
        raise InputError("pollutant", f"unknown pollutant(s) {unknown}")
    vals = frame["value"].to_numpy(dtype=float, na_value=np.nan)
    ok, t_flag = _valid_mask(frame.get("flag"), valid, len(frame))
    for name in set(names):
        rows = np.flatnonzero(np.isin(codes, [i for i, n in enumerate(names) if n == name]))
        yield name, rows, vals[rows], ok[rows], t_flag[rows]
