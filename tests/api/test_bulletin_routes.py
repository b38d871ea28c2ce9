"""Bulletin downloads: the Monday list, a month, a year and the daily air summary as JSON,
CSV and PDF; bad periods refused; role x route access. Values worked by hand."""
from __future__ import annotations

import csv
import io
import random
from datetime import date, datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from alerts import AlertService, AlertSettings, ManualClock
from api.app import create_app
from api.auth import KeyStore, RateLimiter
from core.ecoflow import TargetStore
from core.store import open_store
from core.wire import Reading

UTC = timezone.utc
JAN1_CST = datetime(2025, 12, 31, 16, tzinfo=UTC)          # 1 January 2026 00:00 CST
NOW = datetime(2026, 2, 2, 2, 0, tzinfo=UTC)               # Monday 2 Feb 10:00 CST
ROLES = ["station", "inspector", "city-team", "bureau", "admin"]
SCOPES = {"station": "1462A", "city-team": "xian", "bureau": "Shaanxi"}
# Huaxian 8 m3/s on 26 and 27 January, 11 m3/s otherwise; target set to 10 m3/s below
LOW = {date(2026, 1, 26): 8.0, date(2026, 1, 27): 8.0}


@pytest.fixture(scope="module")
def env(tmp_path_factory, catalogue):
    d = tmp_path_factory.mktemp("bulletins")
    store = open_store(f"duckdb://{d / 's.duckdb'}", catalogue)
    store.write([Reading("huaxian", "weinan", "hydro", JAN1_CST + timedelta(hours=h), "PT1H",
                         {"discharge": LOW.get((JAN1_CST + timedelta(hours=h + 8)).date(),
                                               11.0)}) for h in range(32 * 24)])
    targets = TargetStore(f"sqlite:///{d / 'state.db'}", catalogue)
    targets.set({"section": "huaxian", "valid_from": "2020-01-01", "target_m3s": 10.0,
                 "source": "test"}, who="test")
    clock = ManualClock(NOW)
    svc = AlertService(AlertSettings(state_url=f"sqlite:///{d / 'state.db'}",
                                     mqtt_enabled=False), clock=clock, rng=random.Random(1))
    svc.migrate()
    keys = KeyStore(f"sqlite:///{d / 'k.db'}")
    tokens = {r: keys.create(f"t-{r}", r, SCOPES.get(r))[1] for r in ROLES}
    app = create_app(store, catalogue, keys, limiter=RateLimiter(1000, 1000), targets=targets,
                     alert_state=svc, clock=lambda: clock.now().timestamp())
    yield TestClient(app), tokens
    svc.stop()


def H(tokens, role):
    return {"Authorization": f"Bearer {tokens[role]}"} if role else {}


ROUTES = ["/bulletins/monday", "/bulletins/monday?day=2026-02-02&format=csv",
          "/bulletins/monthly?month=2026-01", "/bulletins/yearly?year=2026",
          "/bulletins/daily?city=xian", "/duty"]
EXPECT = {None: 401, "station": 403, "inspector": 200, "city-team": 200, "bureau": 200,
          "admin": 200}


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("role", list(EXPECT))
def test_access(env, route, role):
    client, tokens = env
    assert client.get(route, headers=H(tokens, role)).status_code == EXPECT[role]


def test_monday_list(env):
    client, tokens = env
    # the week before Monday 2 February: 26 Jan .. 1 Feb; Huaxian missed the 26th and 27th:
    # deficit (10 - 8) x 86 400 x 2 = 345 600 m3
    body = client.get("/bulletins/monday", headers=H(tokens, "inspector")).json()
    assert (body["report"], body["period"]) == ("monday", "2026-02-02")
    (row,) = body["rows"]
    assert (row["section"], row["days_missed"], row["days_missed_list"], row["deficit_m3"],
            row["min_q_m3s"]) == ("huaxian", 2, "2026-01-26,2026-01-27", 345600.0, 8.0)
    r = client.get("/bulletins/monday?day=2026-02-02&format=csv", headers=H(tokens, "admin"))
    assert r.headers["content-type"].startswith("text/csv")
    assert 'filename="monday-2026-02-02.csv"' in r.headers["content-disposition"]
    (c,) = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert (c["section"], c["days_missed"], c["deficit_m3"]) == ("huaxian", "2", "345600.0")


def test_monthly_and_yearly(env):
    client, tokens = env
    # January: 31 days, 2 missed, 29 met: 29/31 = 93.548 % -> 93.55 >= 90: passes
    rows = client.get("/bulletins/monthly?month=2026-01", headers=H(tokens, "bureau")).json()
    (hx,) = [r for r in rows["rows"] if r["section"] == "huaxian"]
    assert (hx["days"], hx["met"], hx["missed"], hx["compliance_pct"], hx["passes"]) == \
        (31, 29, 2, 93.55, True)
    # 2026 so far on 2 February: 32 days lived (1 Jan .. 1 Feb), 30 met: 93.75 %, no verdict
    yr = client.get("/bulletins/yearly?year=2026", headers=H(tokens, "bureau")).json()
    (hy,) = [r for r in yr["rows"] if r["section"] == "huaxian"]
    assert (hy["days"], hy["met"], hy["compliance_pct"], hy["passes"], hy["complete"],
            hy["months_passing"]) == (32, 30, 93.75, None, False, 1)
    pdf = client.get("/bulletins/monthly?month=2026-01&format=pdf&lang=en",
                     headers=H(tokens, "bureau"))
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content[:5] == b"%PDF-"


@pytest.mark.parametrize("route,status", [
    ("/bulletins/monday?day=2026-02-03", 422),          # a Tuesday
    ("/bulletins/monthly?month=2026-13", 422),
    ("/bulletins/monthly?month=January", 422),
    ("/bulletins/yearly?year=1800", 422),
    ("/bulletins/daily?city=atlantis", 404),
    ("/bulletins/monday?format=xlsx", 422),
    ("/duty?team=team-nowhere", 404),
    ("/duty?at=yesterday", 422),
], ids=["not a monday", "month 13", "month name", "year", "city", "format", "team", "at"])
def test_bad_requests(env, route, status):
    client, tokens = env
    assert client.get(route, headers=H(tokens, "admin")).status_code == status


def test_daily_without_data(env):
    """No daily AQI stored and no forecast: the row says so (None), never clean air."""
    client, tokens = env
    body = client.get("/bulletins/daily?city=xian&city=baoji",
                      headers=H(tokens, "city-team")).json()
    assert body["period"] == "2026-02-01"                 # yesterday in CST
    assert [(r["city"], r["aqi"], r["forecast_aqi_q50"]) for r in body["rows"]] == [
        ("xian", None, None), ("baoji", None, None)]


def test_without_alert_state_or_targets(catalogue, tmp_path):
    keys = KeyStore(f"sqlite:///{tmp_path / 'k.db'}")
    token = keys.create("t", "admin", None)[1]
    client = TestClient(create_app(open_store("duckdb://:memory:", catalogue), catalogue,
                                   keys, clock=lambda: NOW.timestamp()))
    h = {"Authorization": f"Bearer {token}"}
    assert client.get("/bulletins/monthly?month=2026-01", headers=h).status_code == 503
    assert client.get("/bulletins/daily", headers=h).status_code == 503
    assert client.get("/duty", headers=h).status_code == 503
