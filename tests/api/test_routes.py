"""Every route: happy path, bad inputs, and access rules (role x route x status)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from core.aqi import recompute
from core.ecoflow import TargetStore
from api.app import create_app
from api.auth import FailureLimiter, KeyStore, RateLimiter
from core.store import open_store
from core.wire import Reading

T0 = datetime(2026, 11, 20, tzinfo=timezone.utc)
ROLES = ["station", "inspector", "city-team", "bureau", "admin"]
# every indicator of HJ 633 at 1463A, steady (ug/m3, CO mg/m3): the AQI routes give numbers
SIX = {"pm25": 50.0, "pm10": 80.0, "so2": 10.0, "no2": 30.0, "co": 0.5, "o3": 60.0}
SCOPES = {"station": "1462A", "city-team": "xian", "bureau": "Shaanxi"}


@pytest.fixture(scope="module")
def env(tmp_path_factory, catalogue):
    d = tmp_path_factory.mktemp("api")
    store = open_store(f"duckdb://{d / 's.duckdb'}", catalogue)
    rows = [Reading("1462A", "xian", "air", T0 + timedelta(hours=h), "PT1H",
                    {"pm25": 100.0 + h, "pm10": 150.0}, {"pm25": "C"} if h == 3 else {})
            for h in range(48)]
    rows += [Reading("1463A", "xian", "air", T0 + timedelta(hours=h), "PT1H", SIX)
             for h in range(48)]
    store.write(rows)
    store.write([Reading("huaxian", "weinan", "hydro", T0 + timedelta(hours=h), "PT1H",
                         {"discharge": 10.0}) for h in range(96)])
    recompute(store, catalogue, T0, T0 + timedelta(days=2))
    keys = KeyStore(f"sqlite:///{d / 'state.db'}")
    targets = TargetStore(f"sqlite:///{d / 'state.db'}", catalogue)
    tokens = {r: keys.create(f"t-{r}", r, SCOPES.get(r))[1] for r in ROLES}
    now = (T0 + timedelta(hours=47, minutes=30)).timestamp()
    client = TestClient(create_app(store, catalogue, keys, limiter=RateLimiter(1000, 1000),
                                   auth_failures=FailureLimiter(1000, 1000),
                                   targets=targets, clock=lambda: now))
    return client, tokens, keys


def _h(tokens, role):
    if role is None:
        return {}
    if role == "bad":
        return {"Authorization": "Bearer fw_not-a-key"}
    return {"Authorization": f"Bearer {tokens[role]}"}


READ_ROUTES = ["/cities", "/cities/xian", "/stations", "/stations/1462A", "/rivers",
               "/sections", "/parameters", "/series?stations=1462A&params=pm25",
               "/stations/1462A/series?params=pm25", "/aqi/current", "/aqi/current?scope=city",
               "/aqi/history?id=1462A", "/aqi/history?id=xian&scope=city&period=daily",
               "/ecoflow/targets", "/ecoflow/status", "/ecoflow/monday?day=2026-11-23",
               "/ecoflow/compliance?month=2026-11", "/ecoflow/yearly?year=2026"]
EXPECT_READ = {None: 401, "bad": 401, "station": 403, "inspector": 200, "city-team": 200,
               "bureau": 200, "admin": 200}


@pytest.mark.parametrize("route", READ_ROUTES)
@pytest.mark.parametrize("role", list(EXPECT_READ))
def test_read_access(env, route, role):
    client, tokens, _ = env
    assert client.get(route, headers=_h(tokens, role)).status_code == EXPECT_READ[role]


@pytest.mark.parametrize("route", ["/health", "/ready"])
def test_health_is_open(env, route):
    client, _, _ = env
    assert client.get(route).status_code == 200


def test_raw_series_has_flags_and_cst_times(env):
    client, tokens, _ = env
    body = client.get("/stations/1462A/series", headers=_h(tokens, "inspector"), params={
        "params": "pm25", "start": "2026-11-20T08:00:00+08:00",
        "end": "2026-11-20T12:00:00+08:00"}).json()
    assert [r["pm25"] for r in body["rows"]] == [100.0, 101.0, 102.0, 103.0]
    assert [r["pm25_flag"] for r in body["rows"]] == ["N", "N", "N", "C"]
    assert body["rows"][0]["time"] == "2026-11-20T08:00:00+08:00"


def test_city_daily_aggregate_and_csv(env):
    client, tokens, _ = env
    h = _h(tokens, "inspector")
    q = {"cities": "xian", "params": "pm25", "every": "1d", "by": "city",
         "start": "2026-11-20T08:00:00+08:00", "end": "2026-11-21T08:00:00+08:00"}
    body = client.get("/series", headers=h, params=q).json()
    assert body["count"] == 2  # data 00-24 UTC spans two CST days
    row = body["rows"][0]
    assert row["time"] == "2026-11-20T00:00:00+08:00"
    assert row["pm25_count"] == 32  # 16 hours of two stations in that CST day
    assert row["pm25_mean"] == pytest.approx((sum(100.0 + i for i in range(16)) + 16 * 50) / 32)
    csv = client.get("/series", headers=h, params={**q, "format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert lines[0].startswith("time,city,pm25_mean") and len(lines) == 3
    empty = client.get("/series", headers=h, params={**q, "format": "csv",
                                                     "start": "2026-10-01T00:00:00+08:00",
                                                     "end": "2026-10-02T00:00:00+08:00"})
    assert empty.status_code == 200 and empty.headers["content-type"].startswith("text/csv")
    assert empty.text.strip().splitlines() == [lines[0]]  # the header, no rows (was "[]")


@pytest.mark.parametrize("query,status", [
    ({"stations": "nope"}, 404),
    ({"cities": "atlantis", "every": "1d", "by": "city"}, 404),
    ({"params": "pm25;DROP"}, 400),
    ({"params": "discharge"}, 400),
    ({"start": "yesterday"}, 422),
    ({"start": "2026-11-21T00:00:00Z", "end": "2026-11-20T00:00:00Z"}, 422),
    ({"start": "2000-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, 422),
    ({"every": "5m"}, 422),
    ({"limit": "0"}, 422),
    ({"limit": "100001"}, 422),   # more rows are paged (test_series_pages.py)
    ({"stations": "1462A' OR '1'='1"}, 404),
])
def test_series_bad_inputs(env, query, status):
    client, tokens, _ = env
    r = client.get("/series", headers=_h(tokens, "inspector"), params=query)
    assert r.status_code == status, r.text
    assert "detail" in r.json()


def test_unknown_things_are_404(env):
    client, tokens, _ = env
    h = _h(tokens, "inspector")
    for route in ("/cities/atlantis", "/stations/XX", "/stations/XX/series",
                  "/sections?river=nile", "/stations?city=atlantis"):
        assert client.get(route, headers=h).status_code == 404, route


def test_revoked_key_is_refused(env):
    client, _, keys = env
    kid, key = keys.create("temp", "inspector")
    h = {"Authorization": f"Bearer {key}"}
    assert client.get("/cities", headers=h).status_code == 200
    keys.revoke(kid)
    assert client.get("/cities", headers=h).status_code == 401


def test_rate_limit_per_key(catalogue, tmp_path):
    store = open_store("duckdb://:memory:", catalogue)
    keys = KeyStore(f"sqlite:///{tmp_path / 'k.db'}")
    clock = [0.0]
    client = TestClient(create_app(store, catalogue, keys,
                                   limiter=RateLimiter(1.0, 3, clock=lambda: clock[0])))
    a = {"Authorization": f"Bearer {keys.create('a', 'inspector')[1]}"}
    b = {"Authorization": f"Bearer {keys.create('b', 'inspector')[1]}"}
    assert [client.get("/cities", headers=a).status_code for _ in range(4)] == [200] * 3 + [429]
    assert client.get("/cities", headers=b).status_code == 200
    clock[0] += 1.0
    assert client.get("/cities", headers=a).status_code == 200


def test_key_needs_scope_and_known_role(tmp_path):
    from api.auth import KeyError_
    keys = KeyStore(f"sqlite:///{tmp_path / 'k.db'}")
    with pytest.raises(KeyError_):
        keys.create("x", "city-team")
    with pytest.raises(KeyError_):
        keys.create("x", "superuser")
    assert all("key_hash" not in k for k in keys.list())


def test_aqi_current_and_history(env):
    client, tokens, _ = env
    h = _h(tokens, "inspector")
    cur = {r["id"]: r for r in client.get("/aqi/current", headers=h).json()}
    assert set(cur) == {"1462A", "1463A"}
    # 1462A at 2026-11-21 23:00Z: pm25 147 -> IAQI (147-115)/(150-115)*50+150 = 195.7 -> 196
    # but AQI needs every pollutant: only pm25/pm10 are sent, so the status says so.
    assert cur["1462A"]["status"] == "insufficient_data" and cur["1462A"]["aqi"] is None
    hist = client.get("/aqi/history", headers=h, params={
        "id": "xian", "scope": "city", "period": "daily", "start": "2026-11-20T00:00:00+08:00",
        "end": "2026-11-22T00:00:00+08:00"}).json()
    # 2026-11-20 CST holds only 16 hours (data from 08:00 CST): no daily AQI. 2026-11-21 CST
    # (hours 16..39 after T0): the city's means over its stations, PM2.5
    # ((100 + 27.5 [mean of 100+h, h = 16..39]) + 50) / 2 = 88.75 in 60..115 (2026)
    # -> 50/55 x 28.75 + 100 = 126.14 -> 127; PM10 (150 + 80) / 2 = 115 -> 96.4 -> 97;
    # the gases only from 1463A (below 40). AQI 127, primary PM2.5.
    assert [r["aqi"] for r in hist["rows"]] == [None, 127], hist["rows"]
    assert client.get("/aqi/history?id=nowhere", headers=h).status_code == 404


def test_aqi_routes_give_the_hand_worked_index_when_every_indicator_is_there(env):
    """1463A reports all six indicators, steady. 2026-11 is under HJ 633-2026 (in force from
    2026-03-01 CST; DOMAIN.md section 3). IAQI = (Ihi - Ilo)/(BPhi - BPlo) x (C - BPlo) + Ilo,
    rounded up.
    Hourly (1 h rows for SO2, NO2, CO, O3; PM on the 24 h rows):
      PM2.5 50 in 35..60 (2026) -> 50/25 x 15 + 50 = 80
      PM10 80 in 50..120 (2026) -> 50/70 x 30 + 50 = 71.43 -> 72
      SO2 1h 10 in 0..150 -> 50/150 x 10 = 3.33 -> 4;  NO2 1h 30 in 0..100 -> 15
      CO 1h 0.5 in 0..5 -> 5;  O3 1h 60 in 0..160 -> 18.75 -> 19
      AQI 80 (II, 良, yellow #FFFF00), primary PM2.5, nothing exceeding (no IAQI > 100).
    Daily for 2026-11-21 CST (16:00Z 11-20 .. 16:00Z 11-21, all 24 hours present):
      PM2.5 80, PM10 72 as above; SO2 24h 10 in 0..50 -> 10; NO2 24h 30 in 0..40 -> 37.5 -> 38;
      CO 24h 0.5 in 0..2 -> 12.5 -> 13; O3 max 8 h mean 60 in 0..100 -> 30.  AQI 80, PM2.5."""
    client, tokens, _ = env
    h = _h(tokens, "inspector")
    cur = {r["id"]: r for r in client.get("/aqi/current", headers=h).json()}
    row = cur["1463A"]
    assert row["aqi"] == 80, row
    assert row["edition"] == "2026" and row["category_zh"] == "良"
    assert row["colour"].upper() == "#FFFF00"
    assert "pm25" in str(row["primary"]) and not row["exceeding"], row
    hist = client.get("/aqi/history", headers=h, params={
        "id": "1463A", "period": "daily", "start": "2026-11-21T00:00:00+08:00",
        "end": "2026-11-22T00:00:00+08:00"}).json()
    assert [r["aqi"] for r in hist["rows"]] == [80], hist["rows"]
    assert "pm25" in str(hist["rows"][0]["primary"])
    hourly = client.get("/aqi/history", headers=h, params={
        "id": "1463A", "start": "2026-11-21T00:00:00+08:00",
        "end": "2026-11-21T06:00:00+08:00"}).json()
    assert [r["aqi"] for r in hourly["rows"]] == [80] * 6, hourly["rows"]


def test_ecoflow_status_reports_and_csv(env):
    client, tokens, _ = env
    h = _h(tokens, "inspector")
    st = {r["section"]: r for r in client.get("/ecoflow/status", headers=h).json()}
    assert st["huaxian"]["target"] == 12.0
    ml = client.get("/ecoflow/monday?day=2026-11-23", headers=h).json()
    hx = [r for r in ml if r["section"] == "huaxian"][0]
    # 10 m3/s on CST days 11-20 (16 h only: unknown), 11-21, 11-22 -> 2 days missed
    assert hx["days_missed"] == 2 and hx["deficit_m3"] == 2 * 2.0 * 86400
    csv = client.get("/ecoflow/compliance?month=2026-11&format=csv", headers=h)
    assert csv.status_code == 200 and csv.text.startswith("section,month,days,met")
    # the API's clock reads 2026-11-21 23:30Z = 11-22 07:30 CST: November is not over, so it
    # is reported so far (1..21 November, 21 days lived of 30) with no verdict, not as nine
    # more days unmet
    (mc,) = [r for r in client.get("/ecoflow/compliance?month=2026-11", headers=h).json()
             if r["section"] == "huaxian"]
    assert (mc["days"], mc["period_days"], mc["complete"], mc["passes"]) == (21, 30, False,
                                                                             None), mc
    (yr,) = [r for r in client.get("/ecoflow/yearly?year=2026", headers=h).json()
             if r["section"] == "huaxian"]
    assert yr["complete"] is False and yr["passes"] is None, yr
    assert client.get("/ecoflow/monday?day=2026-11-24", headers=h).status_code == 422
    assert client.get("/ecoflow/compliance?month=11-2026x", headers=h).status_code == 422


@pytest.mark.parametrize("role,status", [(None, 401), ("bad", 401), ("station", 403),
                                         ("city-team", 403), ("inspector", 200),
                                         ("bureau", 200), ("admin", 200)])
def test_target_audit_is_read_by_inspectors_and_bureaus(env, role, status):
    client, tokens, _ = env
    r = client.get("/ecoflow/targets/audit", headers=_h(tokens, role))
    assert r.status_code == status, r.text
    if status == 200:
        assert isinstance(r.json(), list)


@pytest.mark.parametrize("role,status", [(None, 401), ("inspector", 403), ("city-team", 403),
                                         ("bureau", 403), ("station", 403), ("admin", 200)])
def test_put_target_is_admin_only_and_audited(env, role, status):
    client, tokens, _ = env
    body = {"section": "huaxian", "valid_from": "2027-04-01", "months": [4, 5, 6],
            "target_m3s": 15.0, "source": "test"}
    r = client.put("/ecoflow/targets", headers=_h(tokens, role), json=body)
    assert r.status_code == status, r.text
    if status == 200:
        audit = client.get("/ecoflow/targets/audit", headers=_h(tokens, "admin")).json()
        assert audit[-1]["who"].endswith(":t-admin")
        bad = client.put("/ecoflow/targets", headers=_h(tokens, "admin"),
                         json={**body, "section": "nile"})
        assert bad.status_code == 422
