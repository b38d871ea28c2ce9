"""Forecasts as stored frames (measurements ``forecast_air``, ``forecast_flow``,
``forecast_issue``) and back.

``forecast_air``: one row per valid hour (``time`` = hour start, UTC), tags ``city``,
``pollutant``, ``issue`` (e.g. ``20261210T0000Z``); fields ``lead_h`` (1..96), ``q10``,
``q50``, ``q90`` and ``model_id`` (registry version and variant, or ``baseline:persistence``).
``forecast_flow``: ``time`` = CST day start; tags ``section``, ``issue``; fields ``lead_d``,
``q10``, ``q50``, ``q90``, ``target``, ``p_below``, ``model_id``.
``forecast_issue``: ``time`` = issue time; tag ``kind`` (air/flow); fields ``issue``,
``model_id``, ``n_keys``: the index readers use to find the newest issue.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ._features import HORIZON_H, LEAD_DAYS
from ._met import issue_tag
from ._panel import POLLUTANTS

Q_COLS = ("q10", "q50", "q90")


def hourly_quantiles(q_day: np.ndarray, profile: np.ndarray | None, issue_hour: int
                     ) -> np.ndarray:
    """(3, K, D) window quantiles -> (3, K, 96) hourly, shaped by the (K, 24) CST profile."""
    h = np.arange(HORIZON_H)
    hod = (issue_hour + h + 8) % 24
    shape = np.ones((q_day.shape[1], 24)) if profile is None else profile
    return q_day[:, :, h // 24] * shape[None, :, hod]


def air_frame(fc, j: int, profiles: dict | None, model_id: str) -> pd.DataFrame:
    """Long frame of issue ``j`` of a DayForecast (all cities, pollutants, 96 hours)."""
    hour = int(fc.issue_hours[j])
    issue = pd.Timestamp(hour * 3600, unit="s", tz="UTC")
    valid = pd.date_range(issue, periods=HORIZON_H, freq="h", unit="s")
    parts = []
    k = len(fc.cities)
    for p in POLLUTANTS:
        hq = hourly_quantiles(fc.q[p][:, j], (profiles or {}).get(p), hour)  # (3, K, H)
        parts.append(pd.DataFrame({
            "time": np.tile(valid, k), "city": np.repeat(fc.cities, HORIZON_H),
            "pollutant": p, "issue": issue_tag(issue),
            "lead_h": np.tile(np.arange(1, HORIZON_H + 1), k),
            **{c: np.round(hq[i].ravel(), 3) for i, c in enumerate(Q_COLS)}}))
    df = pd.concat(parts, ignore_index=True)
    df["model_id"] = model_id
    return df.dropna(subset=["q50"])


def flow_frame(ff, j: int, day_index: pd.DatetimeIndex, targets: dict, model_id: str,
               issue) -> pd.DataFrame:
    i = int(ff.issue_pos[j])
    days = day_index[0] + pd.to_timedelta(i + np.arange(ff.q.shape[3]), unit="D")
    s = len(ff.sections)
    df = pd.DataFrame({
        "time": np.tile(days, s), "section": np.repeat(ff.sections, len(days)),
        "issue": issue_tag(issue), "lead_d": np.tile(np.arange(1, len(days) + 1), s),
        **{c: np.round(ff.q[k, j].ravel(), 3) for k, c in enumerate(Q_COLS)},
        "target": np.repeat([targets.get(x, np.nan) for x in ff.sections], len(days)),
        "p_below": np.round(ff.p_below[j].ravel(), 4)})
    df["model_id"] = model_id
    return df.dropna(subset=["q50"])


def issue_row(issue, kind: str, model_id: str, n_keys: int) -> pd.DataFrame:
    return pd.DataFrame({"time": [pd.Timestamp(issue)], "kind": [kind],
                         "issue": [issue_tag(issue)], "model_id": [model_id],
                         "n_keys": [int(n_keys)]})


def pivot_air(df: pd.DataFrame) -> pd.DataFrame:
    """Stored rows of one city and issue -> hourly frame ``ts, lead_h, <p>_q10 ...``."""
    if "city" not in df:
        df = df.assign(city="")
    return next(iter(pivot_cities(df).values()), _wide(pd.DataFrame()))


def pivot_cities(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Stored rows of one issue -> per city the hourly frame ``ts, lead_h, <p>_q10 ...``
    (a row written twice counts once, the last one)."""
    if df.empty:
        return {}
    key = ["city", "time", "lead_h", "pollutant"]
    d = df.drop_duplicates(key, keep="last").set_index(key)[list(Q_COLS)]
    wide = d.unstack("pollutant")
    wide.columns = [f"{p}_{q}" for q, p in wide.columns]
    wide = wide.reset_index().rename(columns={"time": "ts"})
    return {city: _wide(part.sort_values("ts")) for city, part in wide.groupby("city", sort=False)}


def _wide(wide: pd.DataFrame) -> pd.DataFrame:
    cols = ["ts", "lead_h"] + [f"{p}_{q}" for p in POLLUTANTS for q in Q_COLS]
    wide = wide.copy()
    for c in cols:
        if c not in wide:
            wide[c] = np.nan
    return wide[cols].reset_index(drop=True)


__all__ = ["LEAD_DAYS", "Q_COLS", "air_frame", "flow_frame", "hourly_quantiles", "issue_row",
           "pivot_air", "pivot_cities"]
