"""Meteorological forecast feeds: the optional input that gives the air model its skill.

A feed is anything with ``forecast(issue, cities, horizon_h) -> MetForecast | None``; None
(or no feed at all) means "no weather forecast": the service then uses its no-weather model.
:class:`StoreMetFeed` reads forecasts another process stored as measurement ``met_forecast``
(tags ``city``, ``issue``; fields ``lead_h`` and the variables); the simulator's feed is in
:mod:`forecasting.sim`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

#: stagnation: 0..~1.5 static-stability index (静稳天气指数-like) of the boundary layer.
MET_VARS = ("temp", "rh", "pressure", "wind_speed", "wind_dir", "stagnation")


def issue_tag(ts: datetime) -> str:
    """Tag value naming an issue time, e.g. ``20261210T0000Z``."""
    return pd.Timestamp(ts).tz_convert("UTC").strftime("%Y%m%dT%H%MZ")


@dataclass
class MetForecast:
    """Hourly forecasts: ``data[var]`` is (len(valid), len(cities)); ``valid`` hour starts."""

    issue: datetime
    valid: pd.DatetimeIndex
    cities: list[str]
    data: dict[str, np.ndarray]

    def to_frame(self) -> pd.DataFrame:
        h, k = len(self.valid), len(self.cities)
        out = {"time": np.repeat(self.valid, k), "city": np.tile(self.cities, h),
               "issue": issue_tag(self.issue), "lead_h": np.repeat(np.arange(1, h + 1), k)}
        out.update({v: self.data[v].ravel() for v in MET_VARS if v in self.data})
        return pd.DataFrame(out)


class MetFeed(Protocol):
    def forecast(self, issue: datetime, cities: list[str], horizon_h: int = 96
                 ) -> MetForecast | None: ...


class StoreMetFeed:
    """Reads the newest stored ``met_forecast`` issued at or before the requested issue."""

    def __init__(self, store, max_age: timedelta = timedelta(hours=12)) -> None:
        self.store, self.max_age = store, max_age

    def forecast(self, issue, cities, horizon_h=96):
        df = self.store.read_frame("met_forecast", issue - self.max_age,
                                   issue + timedelta(hours=horizon_h), where={"city": cities})
        if df.empty or "issue" not in df:
            return None
        # issued at or before ``issue`` and not older than ``max_age`` (a stale issue's later
        # lead hours also fall in the read window: they are not a current forecast)
        df = df[(df["issue"] <= issue_tag(issue))
                & (df["issue"] >= issue_tag(issue - self.max_age))]
        if df.empty:
            return None
        df = df[df["issue"] == df["issue"].max()]
        valid = pd.date_range(pd.Timestamp(issue).tz_convert("UTC"), periods=horizon_h,
                              freq="h", unit="s")
        data = {}
        t = pd.to_datetime(df["time"], utc=True).dt.as_unit("s")
        rows, cols = valid.get_indexer(t), pd.Index(cities).get_indexer(df["city"])
        ok = (rows >= 0) & (cols >= 0)
        for v in MET_VARS:
            arr = np.full((horizon_h, len(cities)), np.nan)
            if v in df:
                arr[rows[ok], cols[ok]] = df[v].to_numpy(float)[ok]
            data[v] = arr
        if np.isnan(data["wind_speed"]).mean() > 0.5:
            log.warning("stored met forecast too incomplete: issue=%s", issue_tag(issue))
            return None
        return MetForecast(issue, valid, list(cities), data)


def write_met_forecast(store, fc: MetForecast) -> int:
    return store.write_frame("met_forecast", fc.to_frame(), ["city", "issue"])
