"""Meteorological forecast feed: at issue time t, the city weather for the next hours.

Forecast = truth + an error that grows with lead time: per city and parameter a random walk
over lead hours (so errors are smooth in lead), plus a part common to all cities (a synoptic
error, e.g. a front forecast too early). Standard deviation at 24 h lead is ``SIGMA_24H`` x
``error_scale`` and grows like the square root of lead. Deterministic for (seed, issue hour).
"""
from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from ._physics import Truth, rng_for
from .errors import SimError

MET_PARAMS = ("temp", "rh", "pressure", "wind_speed", "wind_dir")
SIGMA_24H = {"temp": 1.5, "rh": 8.0, "pressure": 0.15, "wind_speed": 0.25, "wind_dir": 30.0}
_S_FORECAST = 500


def met_forecast(truth: Truth, issue: datetime, hours: int = 96, *, error_scale: float = 1.0,
                 seed: int | None = None) -> pd.DataFrame:
    """Long frame: issue_time, valid_time (UTC), lead_h (1..hours), city, then MET_PARAMS."""
    seed = truth.seed if seed is None else seed
    h_issue = int(issue.timestamp() // 3600)
    first = int(truth.grid.hours[0])
    i0 = h_issue - first
    if i0 < 0 or i0 + hours >= len(truth.grid):
        raise SimError(f"forecast issued {issue.isoformat()} for {hours} h is outside the "
                       "simulated span (the truth runs 5 days past the simulation end)")
    rng = rng_for(seed, _S_FORECAST, h_issue)
    idx = np.arange(i0 + 1, i0 + hours + 1)
    n, k = hours, len(truth.cities)
    step = np.sqrt(1.0 / 24.0)  # random-walk step: variance 1 per 24 h of lead
    cols = {}
    for p in MET_PARAMS:
        walk = np.cumsum(rng.normal(0.0, step, size=(n, k)), axis=0) * 0.8
        walk += np.cumsum(rng.normal(0.0, step, size=(n, 1)), axis=0) * 0.6
        err = walk * SIGMA_24H[p] * error_scale
        true = truth.air[p][idx]
        if p == "wind_speed":
            value = true * np.exp(err)
        elif p == "wind_dir":
            value = (true + err) % 360.0
        elif p == "rh":
            value = np.clip(true + err, 5.0, 100.0)
        else:
            value = true + err
        cols[p] = value.ravel()
    valid = pd.to_datetime(np.repeat(truth.grid.hours[idx] * 3600, k), unit="s", utc=True)
    frame = pd.DataFrame({
        "issue_time": pd.Timestamp(h_issue * 3600, unit="s", tz="UTC"),
        "valid_time": valid,
        "lead_h": np.repeat(np.arange(1, hours + 1), k),
        "city": np.tile(np.asarray(truth.cities, dtype=object), n),
        **cols,
    })
    return frame
