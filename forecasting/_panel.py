"""Hourly city panels read from the store: one (hours x cities) array per parameter.

A panel is the model's view of history: hour buckets on a contiguous UTC grid (``ts`` is the
start of the hour), one column per city, NaN where the store holds nothing (missing data
never reads as clean air). Flow panels hold CST-daily mean discharge per section.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

POLLUTANTS = ("pm25", "pm10", "so2", "no2", "co", "o3")
MET = ("temp", "rh", "pressure", "wind_speed", "wind_dir")
HOUR = timedelta(hours=1)


def floor_hour(ts: datetime) -> datetime:
    ts = ts.astimezone(timezone.utc)
    return ts.replace(minute=0, second=0, microsecond=0)


@dataclass
class Panel:
    """Hourly values: ``data[param]`` is (len(index), len(keys)); ``keys`` are cities/sections."""

    index: pd.DatetimeIndex  # UTC, hourly (or daily for flow), contiguous
    keys: list[str]
    data: dict[str, np.ndarray]

    @property
    def hours0(self) -> int:
        """Whole hours since the epoch of the first row."""
        return int(self.index[0].timestamp() // 3600)

    def pos(self, ts: datetime) -> int:
        """Row of the bucket starting at ``ts`` (may be outside 0..len)."""
        step = (self.index[1] - self.index[0]) if len(self.index) > 1 else pd.Timedelta(hours=1)
        return int((pd.Timestamp(ts) - self.index[0]) // step)

    def local_hour(self) -> np.ndarray:
        return (self.index.as_unit("s").asi8 // 3600 + 8) % 24

    def subset(self, keys: list[str]) -> "Panel":
        idx = [self.keys.index(k) for k in keys]
        return Panel(self.index, list(keys), {p: v[:, idx] for p, v in self.data.items()})


def hour_index(start: datetime, end: datetime) -> pd.DatetimeIndex:
    return pd.date_range(floor_hour(start), floor_hour(end), freq="h", inclusive="left",
                         unit="s")


def from_long(frame: pd.DataFrame, key: str, params, index: pd.DatetimeIndex,
              keys: list[str], suffix: str = "") -> Panel:
    """Pivot a long frame (``time``, ``key``, ``<p><suffix>``) onto the grid."""
    data = {}
    t = pd.to_datetime(frame["time"], utc=True).dt.as_unit("s") if len(frame) else None
    for p in params:
        arr = np.full((len(index), len(keys)), np.nan)
        if t is not None and f"{p}{suffix}" in frame:
            rows = index.get_indexer(t)
            cols = pd.Index(keys).get_indexer(frame[key])
            ok = (rows >= 0) & (cols >= 0)
            arr[rows[ok], cols[ok]] = frame[f"{p}{suffix}"].to_numpy(float)[ok]
        data[p] = arr
    return Panel(index, list(keys), data)


def load_air(store, cities: list[str], start: datetime, end: datetime) -> Panel:
    """City hourly means of pollutants and weather in [start, end) from ``store.aggregate``."""
    index = hour_index(start, end)
    df = store.aggregate("air", [*POLLUTANTS, *MET[:-1]], index[0].to_pydatetime(),
                         (index[-1] + HOUR).to_pydatetime(), every="1h", by="city",
                         keys=cities)
    panel = from_long(df, "city", [*POLLUTANTS, *MET[:-1]], index, cities, suffix="_mean")
    # wind direction is circular: average the unit vectors of the stations' raw values
    panel.data["wind_dir"] = _wind_dir(store, cities, index)
    panel.data.update(_station_spread(store, cities, index))
    return panel


def _station_spread(store, cities, index) -> dict[str, np.ndarray]:
    """Per city and hour, across its stations: the highest PM2.5 (``pm25_smax``) and the
    spread of log PM2.5 (``pm25_sspread``, std): a plume reaching part of the city first."""
    out = {k: np.full((len(index), len(cities)), np.nan) for k in ("pm25_smax", "pm25_sspread")}
    cat = getattr(store, "cat", None)
    city_of = {s.id: c for c in cities for s in (cat.stations_of(c, "air") if cat else ())}
    if not city_of:
        return out
    df = store.aggregate("air", ["pm25"], index[0].to_pydatetime(),
                         (index[-1] + HOUR).to_pydatetime(), every="1h", by="station",
                         keys=list(city_of))
    if df.empty:
        return out
    df = df.dropna(subset=["pm25_mean"])
    df = df.assign(city=df["station"].map(city_of),
                   lg=np.log1p(np.maximum(df["pm25_mean"].to_numpy(float), 0.0)))
    g = df.groupby(["time", "city"]).agg(pm25_smax=("pm25_mean", "max"),
                                         pm25_sspread=("lg", "std"), n=("lg", "size"))
    g = g[g["n"] >= 2].reset_index()
    got = from_long(g, "city", ["pm25_smax", "pm25_sspread"], index, cities)
    return got.data


def _wind_dir(store, cities, index) -> np.ndarray:
    out = np.full((len(index), len(cities)), np.nan)
    stations = [s.id for c in cities for s in store.cat.stations_of(c, "air")] \
        if hasattr(store, "cat") else []
    if not stations:
        return out
    edges = list(index[::24 * 30]) + [index[-1] + HOUR]
    raw = pd.concat([store.raw("air", stations, ["wind_dir"], a.to_pydatetime(),
                               b.to_pydatetime()) for a, b in zip(edges, edges[1:])])
    raw = raw[raw["wind_dir_flag"].isin(["N", "T"]) & raw["wind_dir"].notna()]
    if raw.empty:
        return out
    rad = np.radians(raw["wind_dir"].to_numpy(float))
    g = pd.DataFrame({"time": raw["time"].dt.floor("h"), "city": raw["city"],
                      "u": np.sin(rad), "v": np.cos(rad)}).groupby(["time", "city"]).mean()
    g = g.reset_index()
    g["wind_dir"] = np.degrees(np.arctan2(g["u"], g["v"])) % 360.0
    return from_long(g, "city", ["wind_dir"], index, cities).data["wind_dir"]


def load_flow(store, sections, start: datetime, end: datetime) -> Panel:
    """CST-daily mean discharge per section (``sections``: catalogue Section objects)."""
    from core.timeutil import cst_day_start
    d0 = cst_day_start(start)
    index = pd.date_range(d0, cst_day_start(end), freq="D", inclusive="left", unit="s")
    stations = [s.station for s in sections]
    df = store.aggregate("hydro", ["discharge"], index[0].to_pydatetime(),
                         (index[-1] + pd.Timedelta(days=1)).to_pydatetime(), every="1d",
                         by="station", keys=stations)
    df = df[df["discharge_count"] >= 18] if len(df) else df
    p = from_long(df, "station", ["discharge"], index, stations, suffix="_mean")
    return Panel(index, [s.id for s in sections], p.data)
