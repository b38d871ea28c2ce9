"""Daily-mean flow per control section (CST days), from valid readings only.

A day needs at least ``min_hours`` hours holding a valid discharge (or stage converted by
the gauge's rating curve); otherwise it is ``unknown``, never ``met``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from core.catalogue import Catalogue
from core.flags import VALID_FLAGS
from core.store import Store
from core.timeutil import CST, cst_day_start

from ._exact import at_least
from ._targets import TargetTable

DAY_S = 86400


@dataclass(frozen=True)
class RatingCurve:
    """Q = a * (H - h0) ** b, for gauges that report stage only."""

    a: float
    h0: float
    b: float

    def discharge(self, stage: pd.Series) -> pd.Series:
        return self.a * np.clip(stage - self.h0, 0, None) ** self.b


def _valid(df: pd.DataFrame, p: str) -> pd.Series:
    ok = df[f"{p}_flag"].isin(VALID_FLAGS) | df[f"{p}_flag"].isna()
    return df[p].where(ok & df[p].notna())


def hourly_discharge(raw: pd.DataFrame, curves: dict[str, RatingCurve]) -> pd.DataFrame:
    """Hourly mean valid discharge per station (stage through the rating curve if needed)."""
    df = raw.copy()
    q = _valid(df, "discharge")
    if curves:
        h = _valid(df, "stage")
        for station, curve in curves.items():
            mask = (df["station"] == station) & q.isna() & h.notna()
            q[mask] = curve.discharge(h[mask])
    df["q"] = q
    df["hour"] = df["time"].dt.floor("h")
    return df.dropna(subset=["q"]).groupby(["station", "hour"], as_index=False)["q"].mean()


def daily_flow(store: Store, cat: Catalogue, targets: TargetTable, start: date, end: date, *,
               min_hours: int = 20, curves: dict[str, RatingCurve] | None = None,
               exclude: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per section and CST day in [start, end): q_mean, n_hours, status, target, met,
    deficit_m3 (volume below target that day). ``exclude``: (station, hour) rows left out,
    e.g. hours a plausibility check found suspect."""
    t0 = datetime(start.year, start.month, start.day, tzinfo=CST)
    t1 = datetime(end.year, end.month, end.day, tzinfo=CST)
    sections = [s for s in cat.sections.values() if s.control_section or
                targets.target(s.id, start) is not None]
    raw = store.raw("hydro", [s.station for s in sections], ["discharge", "stage"], t0, t1)
    hourly = hourly_discharge(raw, curves or {})
    if exclude is not None and len(exclude):
        drop = pd.MultiIndex.from_frame(exclude[["station", "hour"]])
        keep = ~pd.MultiIndex.from_frame(hourly[["station", "hour"]]).isin(drop)
        hourly = hourly[keep].copy()
    hourly["day"] = hourly["hour"].dt.tz_convert(CST).dt.date
    per_day = hourly.groupby(["station", "day"]).agg(q_mean=("q", "mean"),
                                                    n_hours=("q", "size"))
    rows = []
    for sec in sections:
        for i in range((end - start).days):
            day = start + timedelta(days=i)
            rows.append(_row(sec, day, per_day, targets, min_hours))
    return pd.DataFrame(rows, columns=["time", "day", "section", "q_mean", "n_hours", "status",
                                       "target", "met", "deficit_m3"])


def _row(sec, day: date, per_day: pd.DataFrame, targets: TargetTable, min_hours: int) -> list:
    key = (sec.station, day)
    q, n = (per_day.loc[key, "q_mean"], int(per_day.loc[key, "n_hours"])) \
        if key in per_day.index else (np.nan, 0)
    known = n >= min_hours
    t = targets.target(sec.id, day)
    target = t.target_m3s if t else np.nan
    met = at_least(q, target) if known and t else None
    deficit = max(0.0, target - q) * DAY_S if known and t else np.nan
    start = cst_day_start(datetime(day.year, day.month, day.day, 12, tzinfo=CST))
    return [start, day, sec.id, q if known else np.nan, n, "ok" if known else "unknown",
            target, met, deficit]


def store_daily_flow(store: Store, frame: pd.DataFrame) -> int:
    """Write the derived ``flow_daily`` series (tag ``section``)."""
    out = frame.drop(columns=["day"]).copy()
    out["met"] = out["met"].map({True: 1.0, False: 0.0}).astype("float64")
    out["n_hours"] = out["n_hours"].astype("float64")
    return store.write_frame("flow_daily", out, ["section"])
