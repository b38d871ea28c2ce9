"""The production weather feed (``StoreMetFeed``): the newest met forecast stored at or before
an issue, laid out hour by city; an older issue is not used once a newer one is stored, one
issued after the asked time is never used, and a too-incomplete one is refused. On InfluxDB
1.6.7 and DuckDB (the store port both adapters implement)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from core.store import open_store
from forecasting import MetForecast, StoreMetFeed, write_met_forecast
from forecasting._met import MET_VARS

T0 = datetime(2026, 12, 10, 0, tzinfo=timezone.utc)
CITIES = ["xian", "linfen"]


def _forecast(issue: datetime, base: float, hours: int = 96) -> MetForecast:
    valid = pd.date_range(pd.Timestamp(issue), periods=hours, freq="h", unit="s")
    # a value readable by hand: base + lead hour (+100 for the second city)
    grid = base + np.arange(hours)[:, None] + np.array([0.0, 100.0])[None, :]
    return MetForecast(issue, valid, CITIES, {v: grid.copy() for v in MET_VARS})


@pytest.fixture(params=["influxdb", "duckdb"])
def store(request, catalogue, tmp_path):
    if request.param == "duckdb":
        s = open_store(f"duckdb:///{tmp_path}/met.duckdb", catalogue)
    else:
        s = open_store(request.getfixturevalue("influx_url"), catalogue)
    yield s
    s.close()


def test_the_newest_issue_at_or_before_the_asked_time(store):
    write_met_forecast(store, _forecast(T0 - timedelta(hours=6), 1000.0))
    write_met_forecast(store, _forecast(T0, 2000.0))
    write_met_forecast(store, _forecast(T0 + timedelta(hours=6), 3000.0))   # after: unused
    fc = StoreMetFeed(store).forecast(T0 + timedelta(hours=3), CITIES, horizon_h=24)
    assert fc is not None
    # asked at 03:00: hour 0 of the answer is lead hour 3 of the 00:00 issue (2000 + 3)
    assert fc.data["wind_speed"][0, 0] == 2003.0 and fc.data["wind_speed"][0, 1] == 2103.0
    assert fc.data["temp"][23, 0] == 2026.0
    assert list(fc.cities) == CITIES and len(fc.valid) == 24


def test_no_issue_in_reach_or_too_incomplete_is_none(store):
    assert StoreMetFeed(store).forecast(T0, CITIES) is None
    write_met_forecast(store, _forecast(T0 - timedelta(hours=30), 1.0))   # older than 12 h
    assert StoreMetFeed(store).forecast(T0, CITIES) is None
    write_met_forecast(store, _forecast(T0, 5.0, hours=24))          # 24 of 96 hours
    assert StoreMetFeed(store).forecast(T0, CITIES, horizon_h=96) is None
