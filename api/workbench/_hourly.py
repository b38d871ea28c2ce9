"""Hourly series with validity, read through the store port (the basis of every report).

An hour's value is the station's ``PT1H`` reading when it has one; otherwise the mean of its
valid sub-hourly readings when they cover at least 45 minutes of the hour (HJ 663 / GB 3095
§8: an hourly value needs at least 45 minutes of sampling), else no value. Flags are HJ 212
letters (``core.flags``); an hour built from sub-hourly data is ``N`` (or the most common
invalid letter when too little was valid).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Sequence

import numpy as np
import pandas as pd

from core.flags import VALID_FLAGS
from core.store import QueryTooLarge, Store
from core.wire import parse_period

HOUR = timedelta(hours=1)
MIN_HOUR_COVERAGE = 0.75   # 45 of 60 minutes
WINDOW = timedelta(days=31)


def read_raw(store: Store, kind: str, stations: Sequence[str], params: Sequence[str],
             start: datetime, end: datetime) -> pd.DataFrame:
    """Raw rows of ``[start, end)`` read in windows of at most a month (halved while the store
    refuses an answer as too large)."""
    parts, t = [], start
    while t < end:
        upto = min(end, t + WINDOW)
        while True:
            try:
                parts.append(store.raw(kind, list(stations), list(params), t, upto))
                break
            except QueryTooLarge:
                if upto - t <= HOUR:
                    raise
                upto = t + (upto - t) / 2
        t = upto
    parts = [p for p in parts if not p.empty]
    if not parts:
        return store.raw(kind, list(stations), list(params), start, end, limit=1)[:0]
    return pd.concat(parts, ignore_index=True)


def hourly(raw: pd.DataFrame, params: Sequence[str]) -> pd.DataFrame:
    """One row per (station, hour): ``time`` (hour start, UTC), ``station``, ``city`` and per
    parameter ``<p>`` (value, NaN when none), ``<p>_flag`` and ``<p>_valid`` (bool)."""
    cols = ["time", "station", "city"]
    if raw.empty:
        out = pd.DataFrame({c: pd.Series(dtype="object") for c in cols})
        out["time"] = pd.to_datetime(out["time"], utc=True)
        for p in params:
            out[p], out[f"{p}_flag"], out[f"{p}_valid"] = np.nan, None, False
        return out
    hours = raw[raw["period"] == "PT1H"]
    sub = raw[raw["period"] != "PT1H"]
    frames = [_from_hourly(hours, params)] if not hours.empty else []
    if not sub.empty:
        built = _from_sub_hourly(sub, params)
        if frames:   # a PT1H reading wins over the hour built from sub-hourly readings
            have = pd.MultiIndex.from_frame(frames[0][["station", "time"]])
            built = built[~pd.MultiIndex.from_frame(built[["station", "time"]]).isin(have)]
        frames.append(built)
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return out.sort_values(["station", "time"], kind="stable").reset_index(drop=True)


def _from_hourly(df: pd.DataFrame, params) -> pd.DataFrame:
    out = df[["time", "station", "city"]].copy()
    out["time"] = out["time"].dt.floor("h")
    for p in params:
        flag = df[f"{p}_flag"]
        out[p] = df[p].to_numpy()
        out[f"{p}_flag"] = flag.to_numpy()
        out[f"{p}_valid"] = (df[p].notna() & flag.isin(VALID_FLAGS)).to_numpy()
    return out.drop_duplicates(["station", "time"], keep="last")


def _per_hour(period: str) -> float:
    parsed = parse_period(period)
    return 3600 / max(parsed[1], 1) if parsed else 1.0


def _from_sub_hourly(df: pd.DataFrame, params) -> pd.DataFrame:
    df = df.copy()
    df["hour"] = df["time"].dt.floor("h")
    expected = df["period"].map(_per_hour)
    df["_need"] = np.ceil(expected * MIN_HOUR_COVERAGE)
    g = df.groupby(["station", "hour"], sort=False)
    out = g.agg(city=("city", "last"), _need=("_need", "max")).reset_index()
    out = out.rename(columns={"hour": "time"})
    for p in params:
        ok = df[p].notna() & df[f"{p}_flag"].isin(VALID_FLAGS)
        vals = df[p].where(ok)
        stats = vals.groupby([df["station"], df["hour"]], sort=False).agg(["mean", "count"])
        bad = df[f"{p}_flag"].where(~ok & df[p].notna())
        worst = bad.groupby([df["station"], df["hour"]], sort=False).agg(
            lambda s: s.mode().iat[0] if s.notna().any() else None)
        key = pd.MultiIndex.from_frame(out[["station", "time"]])
        mean = stats["mean"].reindex(key).to_numpy()
        count = stats["count"].reindex(key).fillna(0).to_numpy()
        valid = count >= out["_need"].to_numpy()
        out[p] = np.where(valid, mean, np.nan)
        out[f"{p}_flag"] = np.where(valid, "N", worst.reindex(key).to_numpy())
        out[f"{p}_valid"] = valid
    return out.drop(columns="_need")
