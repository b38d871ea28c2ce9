"""Derived AQI series: hourly and daily AQI per station and per city, written to the store.

Measurements (docs/influxdb-schema.md): ``aqi_hourly`` and ``aqi_daily`` with tags
``station`` (a station id, or the city slug for city rows) and ``scope`` (``station`` or
``city``). Recomputing a range rewrites the same points, so late data is back-filled by
recomputing the days it falls in.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pandas as pd

from core.catalogue import Catalogue
from core.store import Store
from core.timeutil import cst_day_start

from ._city import city_aqi
from ._engine import daily_aqi, hourly_aqi

log = logging.getLogger(__name__)
POLL = ("pm25", "pm10", "so2", "no2", "co", "o3")
KEEP = ("aqi", "level", "category", "primary", "exceeding", "status", "edition")


def load_hourly(store: Store, cat: Catalogue, start: datetime, end: datetime) -> pd.DataFrame:
    """Hourly (PT1H) concentrations with flags of all air stations, as the engine wants."""
    ids = [s.id for s in cat.stations.values() if s.kind == "air" and s.national]
    df = store.raw("air", ids, list(POLL), start, end)
    df = df[df["period"] == "PT1H"].rename(columns={"time": "ts"})
    return df[["station", "ts", *POLL, *(f"{p}_flag" for p in POLL)]].reset_index(drop=True)


def _out(frame: pd.DataFrame, scope: str) -> pd.DataFrame:
    cols = [c for c in frame.columns if c.startswith(("iaqi_", "conc_"))]
    out = frame[["station", "ts", *KEEP, *cols]].rename(columns={"ts": "time"}).copy()
    out["scope"] = scope
    for c in ("station", "edition", "category"):
        out[c] = out[c].astype(str)
    out["level"] = out["level"].astype("float64")
    for c in ("primary", "exceeding", "status"):
        out[c] = out[c].fillna("").astype(str)
    return out


def recompute(store: Store, cat: Catalogue, start: datetime, end: datetime) -> dict[str, int]:
    """Recompute and store hourly and daily AQI for the CST days overlapping [start, end)."""
    day0 = cst_day_start(start)
    day1 = cst_day_start(end - timedelta(seconds=1)) + timedelta(days=1)
    frame = load_hourly(store, cat, day0 - timedelta(days=1), day1)
    if frame.empty:
        return {"hourly": 0, "daily": 0}
    station_city = {s.id: s.city for s in cat.stations.values()}
    written = {"hourly": 0, "daily": 0}
    for name, func, period in (("hourly", hourly_aqi, "hourly"), ("daily", daily_aqi, "daily")):
        st = _out(func(frame), "station")
        ct = _out(city_aqi(frame, station_city, period), "city")
        both = pd.concat([st, ct], ignore_index=True)
        both = both[(both["time"] >= day0) & (both["time"] < day1)]
        written[name] = store.write_frame(f"aqi_{name}", both, ["station", "scope"])
    log.info("AQI recomputed for %s .. %s: %s", day0, day1, written)
    return written
