"""Derived AQI series stored by the recompute job, on both stores; late data back-filled."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from core.aqi import calculate, recompute
from core.store import open_store
from core.wire import Reading

DAY = datetime(2026, 12, 9, 16, tzinfo=timezone.utc)  # 2026-12-10 00:00 CST
BASE = {"pm10": 100.0, "so2": 10.0, "no2": 30.0, "co": 0.8, "o3": 40.0}
DAILY = {k: v for k, v in BASE.items() if k != "o3"}


@pytest.fixture(params=["duckdb", "influxdb"])
def store(request, catalogue, tmp_path):
    if request.param == "duckdb":
        s = open_store(f"duckdb://{tmp_path / 'd.duckdb'}", catalogue)
    else:
        s = open_store(request.getfixturevalue("influx_url"), catalogue)
    yield s
    s.close()


def _hours(station, city, pm25, hours=range(24), flags=None):
    return [Reading(station, city, "air", DAY + timedelta(hours=h), "PT1H",
                    {**BASE, "pm25": pm25}, flags or {}) for h in hours]


def test_daily_city_aqi_is_stored_and_matches_scalar_engine(store, catalogue):
    store.write(_hours("1462A", "xian", 150.0) + _hours("1463A", "xian", 170.0))
    recompute(store, catalogue, DAY, DAY + timedelta(days=1))
    df = store.read_frame("aqi_daily", DAY, DAY + timedelta(days=1),
                          {"scope": ["city"], "station": ["xian"]})
    assert len(df) == 1
    expected = calculate({**DAILY, "pm25": 160.0, "o3_8h": 40.0}, DAY, "daily")
    assert df["aqi"].iloc[0] == expected.aqi == 210  # (160-150)/(250-150)*100+200
    assert df["primary"].iloc[0] == "pm25"
    st = store.read_frame("aqi_daily", DAY, DAY + timedelta(days=1), {"station": ["1462A"]})
    assert st["aqi"].iloc[0] == calculate({**DAILY, "pm25": 150.0, "o3_8h": 40.0}, DAY,
                                          "daily").aqi


def test_not_enough_valid_hours_is_reported_not_clean(store, catalogue):
    flags = {"pm25": "M"}
    rows = _hours("1464A", "xian", 300.0, range(19)) + \
        _hours("1464A", "xian", 300.0, range(19, 24), flags)
    store.write(rows)
    recompute(store, catalogue, DAY, DAY + timedelta(days=1))
    df = store.read_frame("aqi_daily", DAY, DAY + timedelta(days=1), {"station": ["1464A"]})
    assert df["status"].iloc[0] == "insufficient_data"
    assert "aqi" not in df or df["aqi"].isna().iloc[0]


def test_late_data_is_backfilled_by_recomputing(store, catalogue):
    store.write(_hours("1465A", "xian", 50.0, range(20)))
    recompute(store, catalogue, DAY, DAY + timedelta(days=1))
    before = store.read_frame("aqi_daily", DAY, DAY + timedelta(days=1), {"station": ["1465A"]})
    store.write(_hours("1465A", "xian", 400.0, range(20, 24)))  # late arrivals
    recompute(store, catalogue, DAY, DAY + timedelta(days=1))
    after = store.read_frame("aqi_daily", DAY, DAY + timedelta(days=1), {"station": ["1465A"]})
    assert len(after) == 1
    assert after["aqi"].iloc[0] > before["aqi"].iloc[0]
    assert after["aqi"].iloc[0] == calculate({**DAILY, "pm25": (20 * 50 + 4 * 400) / 24,
                                              "o3_8h": 40.0}, DAY, "daily").aqi
