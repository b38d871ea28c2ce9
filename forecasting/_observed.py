"""Observed weather as a weather-forecast stand-in, for backtests only (perfect prognosis).

A real forecast of the target day's weather is what gives an air-quality forecast its skill;
to measure how much skill the model has *given* good weather forecasts, backtests may feed it
the weather that was later observed at the target hours (city hourly means of the stations'
temperature, humidity, pressure, wind). That is a perfect-prognosis stand-in and is labelled
so everywhere it is used (model variant ``met``, backtest ``met: observed``, ``model_id``
suffix ``/met-observed``). The live service never builds this feed: ``fenwei forecast issue``
and ``run`` use :class:`forecasting.StoreMetFeed` (stored weather forecasts) or none.
"""
from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from ._met import MetForecast
from ._panel import Panel

LABEL = "observed weather as a perfect-prognosis stand-in for a weather forecast (backtest only)"


def stagnation_proxy(wind_speed: np.ndarray, rh: np.ndarray) -> np.ndarray:
    """A 0..~1.5 static-stability proxy from surface observations: calm and humid hours are
    stagnant (wind <= 1 m/s and RH 80 % give ~1.2; 4 m/s or dry air ~0)."""
    calm = np.clip(1.0 - (np.asarray(wind_speed, float) - 1.0) / 3.0, 0.0, 1.0)
    moist = np.clip((np.asarray(rh, float) - 30.0) / 50.0, 0.0, 1.2)
    return calm * (0.3 + moist)


class ObservedMetFeed:
    """``forecast(issue, cities)`` = the observed city-mean weather of the following hours."""

    label = LABEL
    observed = True

    def __init__(self, panel: Panel) -> None:
        self.panel = panel

    def forecast(self, issue: datetime, cities: list[str], horizon_h: int = 96
                 ) -> MetForecast | None:
        p = self.panel
        i0 = p.pos(issue)
        if i0 < 0 or i0 >= len(p.index):
            return None
        cols = [p.keys.index(c) for c in cities]
        rows = np.arange(i0, i0 + horizon_h)
        ok = rows < len(p.index)
        data = {}
        for v in ("temp", "rh", "pressure", "wind_speed", "wind_dir"):
            arr = np.full((horizon_h, len(cities)), np.nan)
            arr[ok] = p.data[v][rows[ok]][:, cols]
            data[v] = arr
        data["stagnation"] = stagnation_proxy(data["wind_speed"], data["rh"])
        if np.isnan(data["wind_speed"][:24]).mean() > 0.5:
            return None
        valid = pd.date_range(pd.Timestamp(issue).tz_convert("UTC"), periods=horizon_h,
                              freq="h", unit="s")
        return MetForecast(issue, valid, list(cities), data)
