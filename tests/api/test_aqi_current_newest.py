"""/aqi/current is the newest available hour of each station and city, with its time and age,
however far the derived hourly AQI lags the clock (issue 19): the same answers from DuckDB and
from a real InfluxDB."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import FailureLimiter, KeyStore, RateLimiter
from core.aqi import recompute
from core.store import open_store
from core.wire import Reading

T0 = datetime(2026, 11, 20, tzinfo=timezone.utc)
# every HJ 633 indicator, steady (ug/m3, CO mg/m3). Under HJ 633-2026 (in force from
# 2026-03-01 CST, DOMAIN.md section 3), IAQI = (Ihi - Ilo)/(BPhi - BPlo) x (C - BPlo) + Ilo,
# rounded up: PM2.5 50 in 35..60 -> 50/25 x 15 + 50 = 80; PM10 80 in 50..120 -> 72;
# SO2 10 -> 4; NO2 30 -> 15; CO 0.5 -> 5; O3 60 -> 19. AQI 80 (II, yellow), primary PM2.5.
SIX = {"pm25": 50.0, "pm10": 80.0, "so2": 10.0, "no2": 30.0, "co": 0.5, "o3": 60.0}
# 1463A reports hours 0..47 after T0, 1462A only hours 0..29: their newest hours differ
LAST = {"1463A": 47, "1462A": 29}
# the clock: 20 h 30 min after 1463A's last hour began (far beyond the old 6 h window)
NOW = T0 + timedelta(hours=47 + 20, minutes=30)


def _client(store, catalogue, tmp_path, now=NOW):
    store.write([Reading(s, "xian", "air", T0 + timedelta(hours=h), "PT1H", SIX)
                 for s, last in LAST.items() for h in range(last + 1)])
    recompute(store, catalogue, T0, T0 + timedelta(days=2))
    keys = KeyStore(f"sqlite:///{tmp_path / 'state.db'}")
    token = keys.create("t", "inspector")[1]
    app = create_app(store, catalogue, keys, limiter=RateLimiter(1000, 1000),
                     auth_failures=FailureLimiter(1000, 1000), clock=lambda: now.timestamp())
    return TestClient(app), {"Authorization": f"Bearer {token}"}


@pytest.fixture(params=["duckdb", "influxdb"])
def api(request, catalogue, tmp_path):
    if request.param == "duckdb":
        store = open_store(f"duckdb://{tmp_path / 's.duckdb'}", catalogue)
    else:
        store = open_store(request.getfixturevalue("influx_url"), catalogue)
    try:
        yield _client(store, catalogue, tmp_path)
    finally:
        store.close()


def test_each_station_answers_its_newest_hour_with_its_age(api):
    client, h = api
    rows = client.get("/aqi/current", headers=h).json()
    assert [r["id"] for r in rows] == ["1462A", "1463A"]       # sorted by id
    cur = {r["id"]: r for r in rows}
    # 1463A: hour 47 after 2026-11-20T00Z = 2026-11-21T23:00Z = 2026-11-22T07:00+08:00;
    # the clock is 20 h 30 min later: 20.5 x 3600 = 73,800 s
    assert cur["1463A"]["time"] == "2026-11-22T07:00:00+08:00"
    assert cur["1463A"]["age_s"] == 73_800 and cur["1463A"]["age_h"] == 20.5
    # 1462A: the derived series holds its hours 30..47 too, with no indicator at all (status
    # insufficient_data, no lower bound); its newest hour WITH data is hour 29 =
    # 2026-11-21T05:00Z = 13:00+08:00, 18 h before 1463A's: 38.5 h = 138,600 s
    assert cur["1462A"]["time"] == "2026-11-21T13:00:00+08:00"
    assert cur["1462A"]["age_s"] == 138_600 and cur["1462A"]["age_h"] == 38.5
    for row in rows:   # steady SIX: AQI 80, HJ 633-2026 category II (yellow), PM2.5
        assert row["aqi"] == 80 and row["category_en"] == "Good", row
        assert row["colour"].upper() == "#FFFF00" and row["edition"] == "2026"
        assert "pm25" in row["primary"] and row["scope"] == "station"


def test_city_scope_is_the_newest_city_hour(api):
    client, h = api
    rows = client.get("/aqi/current", headers=h, params={"scope": "city"}).json()
    # Xi'an's newest hour is its newest station's: hour 47, 20.5 h old; the mean of the
    # stations is SIX itself, so AQI 80 again
    assert [(r["id"], r["time"], r["age_s"], r["aqi"]) for r in rows] == [
        ("xian", "2026-11-22T07:00:00+08:00", 73_800, 80)]


def test_max_age_bounds_the_search(api):
    client, h = api
    # 24 h back from the clock reaches 1463A's hour (20.5 h old), not 1462A's (38.5 h)
    rows = client.get("/aqi/current", headers=h, params={"max_age_h": 24}).json()
    assert [r["id"] for r in rows] == ["1463A"]
    # 20 h back reaches neither: nothing newer is known, so nothing is current
    assert client.get("/aqi/current", headers=h, params={"max_age_h": 20}).json() == []


@pytest.mark.parametrize("value", [0, -1, 721, "x"])
def test_max_age_out_of_range_is_refused(catalogue, tmp_path, value):
    store = open_store(f"duckdb://{tmp_path / 's.duckdb'}", catalogue)
    try:
        client, h = _client(store, catalogue, tmp_path)
        assert client.get("/aqi/current", headers=h,
                          params={"max_age_h": value}).status_code == 422
    finally:
        store.close()


def test_an_hour_the_clock_has_not_reached_has_age_zero(catalogue, tmp_path):
    # the clock 10 minutes into 1463A's hour 47 (the store may hold the hour being measured
    # when a logger's clock runs fast): it is still the newest, its age 10 min = 600 s
    store = open_store(f"duckdb://{tmp_path / 's.duckdb'}", catalogue)
    try:
        client, h = _client(store, catalogue, tmp_path, now=T0 + timedelta(hours=46, minutes=50))
        cur = {r["id"]: r for r in client.get("/aqi/current", headers=h).json()}
        assert cur["1463A"]["time"] == "2026-11-22T07:00:00+08:00"
        assert cur["1463A"]["age_s"] == 0
    finally:
        store.close()
