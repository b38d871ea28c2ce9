"""Daily verification: stored air forecasts against what was then observed.

For every stored issue whose lead-day windows (24 h each) ended in the checked period: the
window mean of the hourly median (and 10/90 %) against the observed window mean of the
city's hourly values (>= 20 valid hours; otherwise the window is skipped, never scored).
"""
from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from ._features import HORIZON_H
from ._panel import load_air


def verify_air(store, cities: list[str], now: datetime, days: int) -> pd.DataFrame:
    start = now - timedelta(days=days) - timedelta(hours=HORIZON_H)
    fc = store.read_frame("forecast_air", start, now, where={"city": cities})
    if fc.empty:
        return pd.DataFrame()
    fc["lead_d"] = (fc["lead_h"].astype(int) - 1) // 24 + 1
    g = fc.groupby(["issue", "city", "pollutant", "lead_d"])
    win = g.agg(time=("time", "min"), n=("q50", "size"), q10=("q10", "mean"),
                q50=("q50", "mean"), q90=("q90", "mean"), model_id=("model_id", "last"))
    win = win[win["n"] == 24].reset_index()
    win = win[win["time"] + pd.Timedelta(hours=24) <= pd.Timestamp(now)]
    if win.empty:
        return pd.DataFrame()
    panel = load_air(store, cities, win["time"].min().to_pydatetime(), now)
    rows = panel.index.get_indexer(win["time"])
    cols = pd.Index(cities).get_indexer(win["city"])
    obs = np.full(len(win), np.nan)
    for p, sel in win.groupby("pollutant").groups.items():
        arr = panel.data[p]
        sel = np.asarray([win.index.get_loc(s) for s in sel])
        idx = rows[sel][:, None] + np.arange(24)[None]
        ok = (rows[sel] >= 0)[:, None] & (idx < len(arr))
        v = np.where(ok, arr[np.clip(idx, 0, len(arr) - 1), cols[sel][:, None]], np.nan)
        n = np.isfinite(v).sum(axis=1)
        with np.errstate(invalid="ignore"):
            obs[sel] = np.where(n >= 20, np.nanmean(v, axis=1), np.nan)
    win["observed"] = obs
    win["error"] = win["q50"] - win["observed"]
    win["covered"] = ((win["observed"] >= win["q10"]) & (win["observed"] <= win["q90"])).astype(float)
    win = win.dropna(subset=["observed"]).drop(columns="n")
    win["lead_d"] = win["lead_d"].astype("int64")
    return win.reset_index(drop=True)
