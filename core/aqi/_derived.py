"""Derived AQI series: hourly and daily AQI per station and per city, written to the store.

Measurements (docs/influxdb-schema.md): ``aqi_hourly`` and ``aqi_daily`` with tags
``station`` (a station id, or the city slug for city rows) and ``scope`` (``station`` or
``city``). ``aqi`` is the published AQI (HJ 633: NaN when an indicator lacks data);
``aqi_lower_bound`` what the valid indicators prove, ``missing`` the indicators lacking,
``above_range`` those with T-flagged (above the instrument's range) hours. Recomputing a range rewrites the same points, so late data is back-filled by
recomputing the days it falls in.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pandas as pd

from core.catalogue import Catalogue
from core.store import Store
from core.timeutil import cst_day_start

from ._city import grid_city_concentrations
from ._engine import grid_daily_aqi, grid_hourly_aqi
from ._grid import to_grid

log = logging.getLogger(__name__)
POLL = ("pm25", "pm10", "so2", "no2", "co", "o3")
KEEP = ("aqi", "level", "category", "primary", "exceeding", "status", "edition",
        "aqi_lower_bound", "missing", "above_range")
_TEXT = ("primary", "exceeding", "status", "missing", "above_range")


def load_hourly(store: Store, cat: Catalogue, start: datetime, end: datetime) -> pd.DataFrame:
    """Hourly (PT1H) concentrations with flags of the stations city AQI is computed from
    (``Catalogue.aqi_stations``: national ones, else a city's simulated stand-ins)."""
    ids = [s.id for s in cat.aqi_stations()]
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
    for c in _TEXT:
        out[c] = out[c].astype(object).fillna("").astype(str)
    return out


def recompute(store: Store, cat: Catalogue, start: datetime, end: datetime) -> dict[str, int]:
    """Recompute and store hourly and daily AQI for the CST days overlapping [start, end)."""
    day0 = cst_day_start(start)
    day1 = cst_day_start(end - timedelta(seconds=1)) + timedelta(days=1)
    frame = load_hourly(store, cat, day0 - timedelta(days=1), day1)
    if frame.empty:
        return {"hourly": 0, "daily": 0}
    station_city = {s.id: s.city for s in cat.stations.values()}
    # one station grid and one city grid serve the hourly and the daily frames (as
    # hourly_aqi / daily_aqi / city_aqi would build them, each its own: 6 grids, 2 city
    # means; a third of the computing for 76 stations x 4 days)
    grid = to_grid(frame)
    city_grid = to_grid(grid_city_concentrations(grid, station_city))
    written = {"hourly": 0, "daily": 0}
    for name, func in (("hourly", grid_hourly_aqi), ("daily", grid_daily_aqi)):
        st = _out(func(grid), "station")
        ct = _out(func(city_grid), "city")
        both = pd.concat([st, ct], ignore_index=True)
        both = both[(both["time"] >= day0) & (both["time"] < day1)]
        written[name] = store.write_frame(f"aqi_{name}", both, ["station", "scope"])
    log.info("AQI recomputed for %s .. %s: %s", day0, day1, written)
    return written
