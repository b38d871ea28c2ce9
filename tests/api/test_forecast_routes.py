"""Forecast routes over forecasts issued by the real ForecastService (persistence baseline):
latest and past runs per city and section, the run list, bad inputs and role x route access."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import KeyStore, RateLimiter
from core.store import open_store
from core.wire import Reading
from forecasting import ForecastService

T0 = datetime(2026, 12, 1, tzinfo=timezone.utc)
ISSUES = [T0 + timedelta(days=4), T0 + timedelta(days=4, hours=6)]
NOW = ISSUES[-1] + timedelta(hours=2)
ROLES = ["station", "inspector", "city-team", "bureau", "admin"]
SCOPES = {"station": "1462A", "city-team": "xian", "bureau": "Shaanxi"}
BASE = {"pm25": 120.0, "pm10": 180.0, "so2": 15.0, "no2": 40.0, "co": 1.2, "o3": 30.0}


def populated_store(path: str, catalogue):
    """Five days of hourly air (xian, baoji) and flow, then two issued forecast runs."""
    store = open_store(path, catalogue)
    air = [Reading(s.id, s.city, "air", T0 + timedelta(hours=h), "PT1H",
                   {k: round(v * (1 + h % 24 / 40), 2) for k, v in BASE.items()})
           for s in catalogue.stations.values() if s.kind == "air" and s.city in ("xian", "baoji")
           for h in range(5 * 24)]
    hydro = [Reading(s.id, s.city, "hydro", T0 + timedelta(hours=h), "PT1H", {"discharge": 11.0})
             for s in catalogue.stations.values() if s.kind == "hydro" for h in range(5 * 24)]
    store.write(air + hydro)
    registry = Path(path.removeprefix("duckdb://")).parent / "registry"
    svc = ForecastService(store, str(registry), catalogue=catalogue, cities=["xian", "baoji"])
    for t in ISSUES:
        svc.issue(t)
    return store


def make_keys(path: Path) -> tuple[KeyStore, dict[str, str]]:
    keys = KeyStore(f"sqlite:///{path}")
    return keys, {r: keys.create(f"t-{r}", r, SCOPES.get(r))[1] for r in ROLES}


@pytest.fixture(scope="module")
def env(tmp_path_factory, catalogue):
    d = tmp_path_factory.mktemp("fc")
    store = populated_store(f"duckdb://{d / 's.duckdb'}", catalogue)
    keys, tokens = make_keys(d / "k.db")
    app = create_app(store, catalogue, keys, limiter=RateLimiter(1000, 1000),
                     clock=lambda: NOW.timestamp())
    return TestClient(app), tokens


def H(tokens, role):
    if role is None:
        return {}
    if role == "bad":
        return {"Authorization": "Bearer fw_not-a-key"}
    return {"Authorization": f"Bearer {tokens[role]}"}


ROUTES = ["/forecasts/cities/xian/latest",
          "/forecasts/cities/xian?issue_time=2026-12-05T00:00:00Z",
          "/forecasts/sections/huaxian/latest",
          "/forecasts/sections/huaxian?issue_time=2026-12-05T08:00:00%2B08:00",
          "/forecasts/runs", "/forecasts/runs?kind=flow&section=huaxian"]
EXPECT = {None: 401, "bad": 401, "station": 403, "inspector": 200, "city-team": 200,
          "bureau": 200, "admin": 200}


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("role", list(EXPECT))
def test_access(env, route, role):
    client, tokens = env
    r = client.get(route, headers=H(tokens, role))
    assert r.status_code == EXPECT[role], r.text
    if r.status_code in (401, 403):
        assert r.json()["detail"]


def test_city_latest_matches_dashboard_contract(env):
    client, tokens = env
    body = client.get("/forecasts/cities/xian/latest", headers=H(tokens, "inspector")).json()
    assert body["issue_time"] == "2026-12-05T14:00:00+08:00"  # the 06:00Z run, newest <= now
    assert body["issue"] == "20261205T0600Z" and body["model"] == "baseline:persistence"
    assert len(body["rows"]) == 6 * 96
    row = body["rows"][0]
    assert set(row) >= {"time", "pollutant", "q10", "q50", "q90"}
    assert row["time"] == "2026-12-05T14:00:00+08:00" and row["q10"] <= row["q50"] <= row["q90"]
    assert len(body["aqi"]) == 96
    a = body["aqi"][0]
    assert set(a) >= {"time", "aqi_q10", "aqi_q50", "aqi_q90", "p_aqi_gt_200"}
    assert a["aqi_q10"] <= a["aqi_q50"] <= a["aqi_q90"] and 0 <= a["p_aqi_gt_200"] <= 1


def test_past_run_and_run_list(env):
    client, tokens = env
    h = H(tokens, "inspector")
    runs = client.get("/forecasts/runs", headers=h, params={"city": "xian"}).json()["runs"]
    assert [r["issue"] for r in runs] == ["20261205T0600Z", "20261205T0000Z"]  # newest first
    assert runs[1]["n_keys"] == 2
    past = client.get(runs[1]["url"], headers=h).json()
    assert past["issue"] == "20261205T0000Z" and past["city"] == "xian"
    same = client.get("/forecasts/cities/xian", headers=h,
                      params={"issue_time": "2026-12-05T08:00:00"}).json()  # no offset: CST
    assert same["issue"] == "20261205T0000Z"
    none = client.get("/forecasts/runs", headers=h, params={
        "start": "2026-11-01T00:00:00Z", "end": "2026-11-02T00:00:00Z"}).json()
    assert none["runs"] == []


def test_section_latest(env):
    client, tokens = env
    body = client.get("/forecasts/sections/huaxian/latest", headers=H(tokens, "city-team")).json()
    assert body["section"] == "huaxian" and body["issue"] == "20261205T0600Z"
    days = [r["day"] for r in body["rows"]]
    assert days == sorted(days) and len(days) >= 7
    r = body["rows"][1]
    assert r["q10"] <= r["q50"] <= r["q90"] and r["target"] == 12.0 and 0 <= r["p_below"] <= 1


@pytest.mark.parametrize("route,status", [
    ("/forecasts/cities/atlantis/latest", 404),
    ("/forecasts/cities/xianyang/latest", 404),                  # not in the issued runs
    ("/forecasts/cities/xian?issue_time=2026-12-05T01:00:00Z", 404),   # no run at that time
    ("/forecasts/cities/xian?issue_time=yesterday", 422),
    ("/forecasts/cities/xian?issue_time=0001-01-01T00:00:00%2B14:00", 422),
    ("/forecasts/cities/xian", 422),                             # issue_time is required
    ("/forecasts/cities/xian'%20OR%20'1'='1/latest", 404),
    ("/forecasts/sections/nile/latest", 404),
    ("/forecasts/sections/huaxian?issue_time=2026-12-04T00:00:00Z", 404),
    ("/forecasts/runs?city=atlantis", 404),
    ("/forecasts/runs?section=nile&kind=flow", 404),
    ("/forecasts/runs?kind=met", 422),
    ("/forecasts/runs?start=2020-01-01T00:00:00Z&end=2026-01-01T00:00:00Z", 422),
    ("/forecasts/runs?start=2026-12-02T00:00:00Z&end=2026-12-01T00:00:00Z", 422),
])
def test_bad_inputs(env, route, status):
    client, tokens = env
    r = client.get(route, headers=H(tokens, "inspector"))
    assert r.status_code == status, r.text
    assert r.json()["detail"]


def test_no_forecast_yet_is_404_not_clean_air(catalogue, tmp_path):
    keys, tokens = make_keys(tmp_path / "k.db")
    client = TestClient(create_app(open_store("duckdb://:memory:", catalogue), catalogue, keys))
    r = client.get("/forecasts/cities/xian/latest", headers=H(tokens, "inspector"))
    assert r.status_code == 404 and "no air forecast" in r.json()["detail"]
