"""The time-series store port: what every service needs from a store, nothing more.

Frames returned:

* ``raw``: one row per (station, period, time) with columns ``time`` (UTC), ``station``,
  ``city``, ``period`` and per parameter ``<p>`` (float) and ``<p>_flag`` (HJ 212 letter,
  ``N`` where the value has no flag, missing where there is no value).
* ``aggregate``: one row per bucket and key (``station`` or ``city``) with ``time`` (bucket
  start, UTC; 1 d buckets are China Standard Time days) and ``<p>_mean``, ``<p>_min``,
  ``<p>_max``, ``<p>_count``.
* ``latest``: the newest row per station, shaped like ``raw``.
* ``read_frame`` / ``latest_frame``: a derived series' rows in ``[start, end)`` (``time``
  UTC, then its tags and fields as written), all of them or the newest per ``by`` tag
  (``present``: among rows where that numeric field holds a value >= 0).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol, Sequence

import numpy as np
import pandas as pd

from ..catalogue import Catalogue
from ..wire import Reading
from .errors import QueryError, QueryTooLarge

EVERY = {"1h": (3600, 0), "1d": (86400, 8 * 3600)}  # width, offset east of UTC
IDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}\Z")  # \Z: "$" would allow a final "\n"
DEFAULT_MAX_ROWS = 1_000_000


class Store(Protocol):
    """A time-series store. ``write`` is idempotent on (kind, station, period, ts)."""

    def write(self, readings: Sequence[Reading]) -> int: ...

    def raw(self, kind: str, stations: Sequence[str], params: Sequence[str],
            start: datetime, end: datetime, *, limit: int | None = None) -> pd.DataFrame: ...

    def aggregate(self, kind: str, params: Sequence[str], start: datetime, end: datetime, *,
                  every: str = "1h", by: str = "station", keys: Sequence[str] | None = None
                  ) -> pd.DataFrame: ...

    def latest(self, kind: str, stations: Sequence[str] | None = None) -> pd.DataFrame: ...

    def write_frame(self, measurement: str, frame: pd.DataFrame, tags: Sequence[str]) -> int: ...

    def read_frame(self, measurement: str, start: datetime, end: datetime,
                   where: dict[str, Sequence[str]] | None = None) -> pd.DataFrame: ...

    def latest_frame(self, measurement: str, start: datetime, end: datetime,
                     where: dict[str, Sequence[str]] | None = None, *, by: str = "station",
                     present: str | None = None) -> pd.DataFrame: ...

    def ping(self) -> bool: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Query:
    kind: str
    keys: tuple[str, ...]
    params: tuple[str, ...]
    start: int
    end: int


def check_query(cat: Catalogue, kind: str, keys: Sequence[str] | None, params: Sequence[str],
                start: datetime, end: datetime) -> Query:
    """Validate a query's parts; identifiers are checked so no query text can be injected."""
    if kind not in ("air", "hydro"):
        raise QueryError(f"unknown kind {kind!r}")
    for k in keys or ():
        if not isinstance(k, str) or not IDENT.match(k):
            raise QueryError(f"bad identifier {k!r}")
    if not params:
        raise QueryError("no parameters requested")
    for p in params:
        if p not in cat.parameters or cat.parameters[p].kind != kind:
            raise QueryError(f"unknown {kind} parameter {p!r}")
    s, e = _epoch(start, "start"), _epoch(end, "end")
    if e <= s:
        raise QueryError("end must be after start")
    return Query(kind, tuple(keys or ()), tuple(dict.fromkeys(params)), s, e)


def check_every(every: str, by: str) -> tuple[int, int]:
    if every not in EVERY:
        raise QueryError(f"every must be one of {sorted(EVERY)}")
    if by not in ("station", "city"):
        raise QueryError("by must be 'station' or 'city'")
    return EVERY[every]


def check_bucket_bound(q: Query, width: int, n_keys: int, max_rows: int) -> None:
    buckets = -(-(q.end - q.start) // width) + 1
    if buckets * max(n_keys, 1) > max_rows:
        raise QueryTooLarge(f"{buckets} buckets x {n_keys} keys exceeds {max_rows} rows")


def _epoch(ts: datetime, name: str) -> int:
    if not isinstance(ts, datetime) or ts.tzinfo is None:
        raise QueryError(f"{name} must be a timezone-aware datetime")
    return int(ts.timestamp())


def to_utc(epoch_s) -> pd.Series:
    return pd.to_datetime(epoch_s, unit="s", utc=True)


def utc(ts: datetime) -> datetime:
    return ts.astimezone(timezone.utc)


def raw_columns(params: Sequence[str]) -> list[str]:
    cols = ["time", "station", "city", "period"]
    for p in params:
        cols += [p, f"{p}_flag"]
    return cols


def finish_raw(df: pd.DataFrame, params: Sequence[str], *, ordered: bool = False
               ) -> pd.DataFrame:
    """Normalise a raw frame: N for flagless values, sorted, fixed column order.
    ``ordered``: the rows already come sorted by station, period and time. (numpy per
    column: pandas' astype/where cost ~0.5 ms a parameter, more than a week's query.)"""
    for p in params:
        if p not in df:
            df[p] = float("nan")
        flag = f"{p}_flag"
        if flag not in df:
            df[flag] = None
        if df[p].dtype != "float64":
            df[p] = df[p].astype("float64")
        flags = df[flag].to_numpy(dtype=object)
        unflagged = pd.isna(flags) & ~np.isnan(df[p].to_numpy())
        if unflagged.any():
            flags = flags.copy()
            flags[unflagged] = "N"
            df[flag] = pd.Series(flags, index=df.index, dtype=object)
    df = df[raw_columns(params)]
    if not ordered and not _one_series_in_time_order(df):
        df = df.sort_values(["station", "period", "time"], kind="stable")
    return df.reset_index(drop=True)


def raw_frame(arrays: dict, params: Sequence[str]) -> pd.DataFrame:
    """A finished raw frame from a query's columns as numpy arrays (``ts`` epoch seconds,
    ``station``, ``city``, ``period``, per parameter ``<p>`` and ``<p>_flag`` with the N
    already filled in; masked arrays for NULLs), rows already in order."""
    data = {"time": to_utc(arrays["ts"])}
    for c in ("station", "city", "period"):
        data[c] = pd.Series(_unmasked(arrays[c], None), dtype=object)
    for p in params:
        data[p] = _unmasked(arrays[p], np.nan).astype("float64", copy=False)
        data[f"{p}_flag"] = pd.Series(_unmasked(arrays[f"{p}_flag"], None), dtype=object)
    return pd.DataFrame(data)


def _unmasked(a, fill):
    if not isinstance(a, np.ma.MaskedArray):
        return np.asarray(a)
    out = a.data.copy()
    out[np.ma.getmaskarray(a)] = fill
    return out


def _one_series_in_time_order(df: pd.DataFrame) -> bool:
    if len(df) < 2:
        return True
    one = all((df[c].to_numpy() == df[c].iat[0]).all() for c in ("station", "period"))
    return one and df["time"].is_monotonic_increasing


def agg_columns(by: str, params: Sequence[str]) -> list[str]:
    cols = ["time", by]
    for p in params:
        cols += [f"{p}_mean", f"{p}_min", f"{p}_max", f"{p}_count"]
    return cols
