"""Hindcast: the warnings the ``air_warning`` rule would have issued over a stored history.

Every CST day of the period, at the issue time, the rule's own grader (:meth:`Grader.assess`,
the same code path as the rule and ``fenwei warnings grade``) grades a city's 96-hour
"forecast" with the level then in force, so holding and lifting behave as in service:

* ``observed``: perfect forecasts, i.e. the city's observed hourly means of the next 96 h
  (and the 23 h before, completing the first 24 h windows), turned into 24 h-window AQI by
  the AQI engine exactly as ``fenwei warnings grade`` does with an hourly file;
* ``forecast``: the model's own forecast issued at that time (any callable
  ``forecasts(issue) -> CityForecast | None``: forecasting's public API or stored series).

The result is one object per level spell: ``level``, ``issued`` (the issue time that first
gave it), ``onset`` / ``end`` (the episode's hours from the evidence: onset from the first
assessment, end from the latest), ``lifted`` (the issue time at which the rule lowered,
raised or lifted that level; ``None`` if still in force at the end), ``criteria``, ``next``
(the level that followed: a higher one, a lower one, or ``None`` when lifted).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable

import numpy as np
import pandas as pd

from core.timeutil import CST

from ._hourly import cst, hourly_series
from ._grading import POLLUTANTS

HOUR = timedelta(hours=1)
HORIZON_H = 96


def issue_times(start: datetime, end: datetime, issue_hour: int = 0) -> list[datetime]:
    """One issue per CST day in [start, end), at ``issue_hour`` CST."""
    d = start.astimezone(CST).replace(hour=0, minute=0, second=0, microsecond=0)
    out = []
    while d < end:
        t = d + timedelta(hours=issue_hour)
        if start <= t < end:
            out.append(t)
        d += timedelta(days=1)
    return out


def observed_hourly(store, city: str, start: datetime, end: datetime) -> pd.DataFrame:
    """City hourly means of the six pollutants over [start, end): ``time`` (CST) + columns,
    every hour present (NaN where nothing was measured)."""
    idx = pd.date_range(pd.Timestamp(start).tz_convert("UTC"), pd.Timestamp(end).tz_convert(
        "UTC"), freq="h", inclusive="left")
    df = store.aggregate("air", list(POLLUTANTS), idx[0].to_pydatetime(),
                         (idx[-1] + pd.Timedelta(hours=1)).to_pydatetime(), every="1h",
                         by="city", keys=[city])
    out = pd.DataFrame({"time": idx})
    if len(df):
        t = pd.to_datetime(df["time"], utc=True)
        for p in POLLUTANTS:
            col = f"{p}_mean"
            s = pd.Series(df[col].to_numpy(float) if col in df else np.nan, index=t)
            out[p] = s[~s.index.duplicated()].reindex(idx).to_numpy()
    else:
        for p in POLLUTANTS:
            out[p] = np.nan
    out["time"] = out["time"].dt.tz_convert(CST)
    return out


def observed_forecasts(store, city: str, issues: list[datetime]
                       ) -> Callable[[datetime], object]:
    """``forecasts(issue)``: perfect forecasts from the observed hours (one store read)."""
    if not issues:
        return lambda t: None
    frame = observed_hourly(store, city, issues[0] - 23 * HOUR,
                            issues[-1] + HORIZON_H * HOUR)
    times = pd.DatetimeIndex(frame["time"])

    def get(issue: datetime):
        a = times.get_loc(pd.Timestamp(issue) - 23 * HOUR)
        part = frame.iloc[a:a + 23 + HORIZON_H]
        part = part.loc[:, ["time", *[p for p in POLLUTANTS if part[p].notna().any()]]]
        if len(part.columns) == 1:
            return None
        part = part.assign(time=[t.isoformat() for t in part["time"]])
        return hourly_series(part, city=city, issued=issue, source="observed")
    return get


def _span(level, issue, a, basis) -> dict:
    ev = a.evidence
    return {"level": level, "issued": cst(issue), "onset": cst(ev.get("onset")),
            "end": cst(ev.get("end")), "lifted": None, "next": None,
            "criteria": ev.get("criterion"), "basis": basis, "peak_aqi": ev.get("peak_aqi"),
            "lead_h": ev.get("lead_h"), "primary": ev.get("primary")}


def hindcast(grader, city: str, issues: list[datetime], forecasts: Callable) -> list[dict]:
    """Run the grader at each issue time with the level in force; one dict per level spell."""
    out: list[dict] = []
    cur: dict | None = None
    for t in issues:
        fc = forecasts(t)
        a = grader.assess(fc, city, t, cur["level"] if cur else None)
        level = a.level
        if cur is not None and level == cur["level"]:
            if a.evidence.get("end"):
                cur["end"] = cst(a.evidence["end"])
            if cur["onset"] is None and a.evidence.get("onset"):
                cur["onset"] = cst(a.evidence["onset"])
            continue
        if cur is not None:
            cur["lifted"], cur["next"] = cst(t), level
            cur = None
        if level is not None:
            cur = _span(level, t, a, a.basis)
            out.append(cur)
    return out


__all__ = ["hindcast", "issue_times", "observed_forecasts", "observed_hourly"]
