"""Completeness (有效数据率, issue 20) against shares worked by hand from the validity rules:
a daily value needs >= 20 valid hourly values (DOMAIN.md §3); a monthly value >= 27 valid
days, 25 in February (GB 3095-2012 Table 4); only N and T count (DOMAIN.md §5)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from core.store import open_store
from core.wire import Reading

from .test_export_roundtrip import build_client

# February 2027 in CST: 28 days, 672 hours; day d (1-based) starts at T0 + (d - 1) days
T0 = datetime(2027, 1, 31, 16, tzinfo=timezone.utc)   # 2027-02-01 00:00 CST


def hour(day: int, h: int) -> datetime:
    return T0 + timedelta(days=day - 1, hours=h)


# 1462A: day 1 hours 0-4 flagged M (maintenance) -> 19 valid, the day is invalid;
#        day 2 hours 10-13 missing while 1463A reports -> site offline, 20 valid, day valid;
#        day 3 hours 0-2 missing everywhere -> pipeline down, hour 5 flagged C -> 20 valid;
#        days 4-6 missing while 1463A reports -> site offline, three invalid days.
M_HOURS = {hour(1, h) for h in range(5)}
C_HOURS = {hour(3, 5)}
OFFLINE = {hour(2, h) for h in range(10, 14)} | {hour(d, h) for d in (4, 5, 6)
                                                  for h in range(24)}
DOWN = {hour(3, h) for h in range(3)}


def readings():
    rows = []
    for i in range(28 * 24):
        ts = T0 + timedelta(hours=i)
        if ts in DOWN:
            continue
        if ts not in OFFLINE:
            flag = "M" if ts in M_HOURS else "C" if ts in C_HOURS else None
            rows.append(Reading("1462A", "xian", "air", ts, "PT1H", {"pm25": 50.0},
                                {"pm25": flag} if flag else {}))
        rows.append(Reading("1463A", "xian", "air", ts, "PT1H", {"pm25": 40.0}))
    return rows


@pytest.fixture(scope="module")
def client(tmp_path_factory, catalogue):
    d = tmp_path_factory.mktemp("completeness")
    store = open_store(f"duckdb://{d / 's.duckdb'}", catalogue)
    store.write(readings())
    yield build_client(store, catalogue, f"sqlite:///{d / 'state.db'}")
    store.close()


def get(client, role="inspector", **params):
    c, h = client
    return c.get("/reports/completeness", headers=h[role], params={
        "stations": "1462A,1463A", "params": "pm25", "start": "2027-02-01",
        "end": "2027-03-01", **params})


def test_station_shares_by_hand(client):
    body = get(client).json()
    a, b = body["stations"]
    assert (a["station"], b["station"]) == ("1462A", "1463A")
    # 1462A invalid hours: 5 (M) + 4 (offline) + 3 (down) + 1 (C) + 72 (offline) = 85
    assert a["hours"] == {"valid": 672 - 85, "expected": 672, "share": round(587 / 672, 4)}
    # invalid days: day 1 (19 valid) and days 4, 5, 6 (none): 24 of 28
    assert a["days"] == {"valid": 24, "expected": 28, "share": round(24 / 28, 4)}
    # 24 valid days < 25 needed in February: the month is not valid
    assert a["months"] == {"valid": 0, "expected": 1, "share": 0.0}
    assert a["by_month"][0]["min_days"] == 25 and a["by_month"][0]["valid"] is False
    # 1463A misses only the 3 pipeline hours: 669 hours, day 3 has 21 valid, 28 days, month ok
    assert b["hours"]["valid"] == 669 and b["days"]["valid"] == 28
    assert b["months"] == {"valid": 1, "expected": 1, "share": 1.0}


def test_gaps_and_causes(client):
    gaps = get(client).json()["stations"][0]["gaps"]
    assert [(g["start"], g["hours"], g["cause"], g["flag"]) for g in gaps] == [
        ("2027-02-01T00:00:00+08:00", 5, "maintenance", "M"),
        ("2027-02-02T10:00:00+08:00", 4, "site_offline", None),
        ("2027-02-03T00:00:00+08:00", 3, "pipeline_down", None),
        ("2027-02-03T05:00:00+08:00", 1, "calibration", "C"),
        ("2027-02-04T00:00:00+08:00", 72, "site_offline", None)]
    assert gaps[4]["end"] == "2027-02-07T00:00:00+08:00"
    assert gaps[0]["flag_meaning"] == "maintenance"


def test_city_month(client):
    (city,) = get(client).json()["cities"]
    # hours 587 + 669 of 2 x 672; days 24 + 28 of 2 x 28; one station with a valid month
    assert city["city"] == "xian" and city["month"] == "2027-02" and city["partial"] is False
    assert city["hours"] == {"valid": 1256, "expected": 1344, "share": round(1256 / 1344, 4)}
    assert city["days"] == {"valid": 52, "expected": 56, "share": round(52 / 56, 4)}
    assert (city["stations"], city["stations_month_valid"]) == (2, 1)


def test_partial_month_has_no_month_share(client):
    body = get(client, end="2027-02-08").json()
    a = body["stations"][0]
    # 7 days, 168 hours: invalid 85 as above (all within the first week)
    assert a["hours"]["valid"] == 168 - 85 and a["days"] == {"valid": 3, "expected": 7,
                                                            "share": round(3 / 7, 4)}
    assert a["months"]["share"] is None and a["by_month"][0]["partial"] is True


def test_report_states_its_rules(client):
    # the rules themselves, from the report: 20 h a day, 27 days a month, 25 in February
    rules = get(client).json()["rules"]
    assert (rules["day_min_hours"], rules["month_min_days"], rules["february_min_days"]) == \
        (20, 27, 25)


def test_city_selection_and_access(client):
    c, h = client
    body = get(client, stations=None, cities="xian").json()
    assert {r["station"] for r in body["stations"]} >= {"1462A", "1463A"}
    for role, status in (("station", 403), ("city-team", 200), ("bureau", 200),
                         ("admin", 200)):
        assert get(client, role=role).status_code == status
    assert c.get("/reports/completeness", params={"stations": "1462A"}).status_code == 401
