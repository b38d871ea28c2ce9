"""Issue 16 item 2: a missing or invalid indicator blanks the published AQI (HJ 633) but the
valid ones still prove a lower bound, and real-time alerts fire on it.

Every expected value is worked by hand from DOMAIN.md section 3's breakpoints:
IAQI = (IAQI_hi - IAQI_lo) / (BP_hi - BP_lo) * (C - BP_lo) + IAQI_lo, rounded up.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from alerts.rules._base import RuleContext
from alerts.rules.aqi_realtime import AqiRealtimeRule, RealtimeConfig
from core.aqi import calculate, city_aqi, hourly_aqi, rolling_aqi
from core.wire import Reading

OLD = "2025-12-01T10:00:00+08:00"            # HJ 633-2012 in force
T0 = datetime(2026, 1, 10, 0, 0, tzinfo=timezone.utc)   # 08:00 CST, still 2012 tables
# hourly, all valid: pm10 50 (IAQI 50), no2 1 h 20 (50*20/100 = 10), co 1 h 0.5 (50*0.5/5 = 5),
# o3 1 h 60 (50*60/160 = 18.75 -> 19)
CLEAN = {"pm10": 50.0, "no2": 20.0, "co": 0.5, "o3": 60.0}


@pytest.mark.parametrize(("conc", "aqi", "bound", "missing"), [
    # pm25 260 on the 24 h rows: 250..350 -> IAQI 300..400: 300 + 100*10/100 = 310
    pytest.param({"pm25": 260.0, "so2": None, **CLEAN}, None, 310, ("so2",),
                 id="pm25-310-so2-invalid"),
    # pm25 250 is the breakpoint: IAQI 300 exactly (not "at least 301")
    pytest.param({"pm25": 250.0, "so2": None, **CLEAN}, None, 300, ("so2",),
                 id="pm25-300-breakpoint-so2-invalid"),
    # pm25 151: 150..250 -> 200..300: 200 + 100*1/100 = 201
    pytest.param({"pm25": 151.0, "so2": None, "no2": None, "pm10": 50.0}, None, 201,
                 ("so2", "no2"), id="pm25-201-two-missing"),
    # everything valid: so2 1 h 12 -> 50*12/150 = 4; the bound is the AQI itself (310)
    pytest.param({"pm25": 260.0, "so2": 12.0, **CLEAN}, 310, 310, (), id="complete"),
    # only missing values: nothing proven
    pytest.param({"pm25": None, "so2": None}, None, None, ("pm25", "so2"), id="nothing-valid"),
    # the missing one would not be the largest, still the AQI is not published
    pytest.param({"pm25": 20.0, "pm10": None}, None, 29, ("pm10",), id="pm25-29-pm10-missing"),
])
def test_calculate_reports_the_lower_bound_and_names_what_is_missing(conc, aqi, bound, missing):
    # pm25 20: 50*20/35 = 28.6 -> 29
    r = calculate(conc, OLD, "hourly")
    assert (r.aqi, r.aqi_lower_bound, r.missing) == (aqi, bound, missing)
    if aqi is None:
        assert r.category is None   # the published category follows the published AQI


def _hour(ts, **values):
    return {"station": "S1", "ts": ts, **values}


def test_hourly_frame_publishes_nan_but_bounds_the_aqi():
    ts = pd.Timestamp(T0)
    frame = pd.DataFrame([_hour(ts, pm25=260.0, so2=12.0, so2_flag="D", **CLEAN)])
    row = hourly_aqi(frame).iloc[0]
    assert math.isnan(row["aqi"]) and row["status"] == "insufficient_data"
    assert row["aqi_lower_bound"] == 310 and row["missing"] == "so2"
    assert "so2" in row["reason"]


def test_rolling_frame_bounds_a_window_without_enough_no2_hours():
    # 24 hours of pm25 160 (24 h mean 160: 200 + 100*10/100 = 210); no2 only 19 valid hours,
    # one short of the 20 a 24 h mean needs: the window's AQI is unpublished, at least 210.
    hours = [pd.Timestamp(T0) + pd.Timedelta(hours=h) for h in range(24)]
    rows = [_hour(t, pm25=160.0, pm10=50.0, so2=10.0, co=0.5, o3=60.0,
                  no2=20.0 if h < 19 else np.nan) for h, t in enumerate(hours)]
    r = rolling_aqi(pd.DataFrame(rows)).iloc[0]
    assert math.isnan(r["aqi"]) and (r["aqi_lower_bound"], r["missing"]) == (210, "no2")


# ---------------------------------------------------------------- the real-time rule
RT = {"id": "aqi-realtime", "type": "aqi_realtime", "kind": "air.realtime", "scopes": ["city"]}


@pytest.fixture
def store(tmp_path, catalogue):
    from core.store import open_store
    s = open_store(f"duckdb://{tmp_path / 'store.duckdb'}", catalogue)
    yield s
    s.close()


def _rule(catalogue, **over):
    return AqiRealtimeRule(RealtimeConfig(**{**RT, **over}), catalogue)


def _put(store, aqi, bound, missing, hour=T0 - timedelta(hours=1)):
    store.write_frame("aqi_hourly", pd.DataFrame({
        "time": [pd.Timestamp(hour)], "station": ["xian"], "scope": ["city"],
        "aqi": [aqi], "aqi_lower_bound": [bound], "missing": [missing],
        "primary": [""]}), ["station", "scope"])


def _signals(rule, store, open_alerts=()):
    ctx = RuleContext(store=store, now=T0, open_alerts_source=list(open_alerts))
    return {s: sig for s, sig in rule.evaluate_context(ctx)}


@pytest.mark.parametrize(("bound", "want"), [
    (310.0, "red"),       # > 300: 严重污染
    (301.0, "red"),
    (300.0, "orange"),    # 300 is not > 300
    (201.0, "orange"),
    (200.0, None),        # 200 is not > 200: clear
])
def test_realtime_alert_fires_on_the_lower_bound(catalogue, store, bound, want):
    _put(store, float("nan"), bound, "so2")
    sig = _signals(_rule(catalogue), store)["city:xian"]
    if want is None:
        assert sig.status == "clear"
        return
    assert (sig.status, sig.level) == ("firing", want)
    ev = sig.evidence
    assert (ev["aqi"], ev["lower_bound"], ev["missing"]) == (int(bound), True, ["so2"])
    assert f"at least {int(bound)} (so2 without valid data)" in ev["detail_en"]


def test_complete_hour_has_no_lower_bound_mark(catalogue, store):
    _put(store, 250.0, 250.0, "")
    sig = _signals(_rule(catalogue), store)["city:xian"]
    assert (sig.level, sig.evidence["aqi"]) == ("orange", 250)
    assert "lower_bound" not in sig.evidence and "missing" not in sig.evidence


def test_a_lower_bound_below_an_open_level_holds_it_as_insufficient(catalogue, store):
    # red open; now pm25 alone proves 150 with so2 missing: the true AQI may still be > 300
    _put(store, float("nan"), 150.0, "so2")
    open_red = {"id": 1, "rule_id": "aqi-realtime", "subject": "city:xian", "state": "active",
                "level": "red"}
    sig = _signals(_rule(catalogue), store, [open_red])["city:xian"]
    assert (sig.status, sig.level) == ("insufficient", "red")


def test_rows_written_before_the_bound_existed_still_alert(catalogue, store):
    store.write_frame("aqi_hourly", pd.DataFrame({
        "time": [pd.Timestamp(T0 - timedelta(hours=1))], "station": ["xian"],
        "scope": ["city"], "aqi": [260.0], "primary": ["pm25"]}), ["station", "scope"])
    sig = _signals(_rule(catalogue), store)["city:xian"]
    assert (sig.status, sig.level) == ("firing", "orange")


def test_computed_from_readings_with_so2_flagged_invalid(catalogue, store):
    # Xi'an's national stations, hourly: pm25 260 (IAQI 310) and so2 flagged D (fault) at
    # every station, so the city has no valid SO2 hour: AQI unpublished, at least 310 -> red.
    stations = [s for s in catalogue.stations_of("xian", "air") if s.national]
    store.write([Reading(s.id, "xian", "air", T0 - timedelta(hours=h), "PT1H",
                         {"pm25": 260.0, "so2": 12.0, **CLEAN}, {"so2": "D"})
                 for s in stations for h in range(1, 4)])
    sig = _signals(_rule(catalogue, source="computed"), store)["city:xian"]
    assert (sig.status, sig.level) == ("firing", "red")
    assert (sig.evidence["aqi"], sig.evidence["missing"]) == (310, ["so2"])


def test_city_aqi_bounds_when_every_station_lacks_an_indicator(catalogue):
    frame = pd.DataFrame([_hour(pd.Timestamp(T0), pm25=260.0, so2=12.0, so2_flag="D",
                                **CLEAN)])
    r = city_aqi(frame, {"S1": "xian"}, "hourly").iloc[0]
    assert math.isnan(r["aqi"]) and r["aqi_lower_bound"] == 310


def test_a_t_flagged_hour_is_a_lower_bound_that_holds_an_open_level(catalogue, store):
    # pm25 T-flagged (above the instrument's range) at 150 µg/m³: IAQI 200 (breakpoint),
    # "at least 200": it cannot show an open red alert may end -> insufficient, held red
    store.write_frame("aqi_hourly", pd.DataFrame({
        "time": [pd.Timestamp(T0 - timedelta(hours=1))], "station": ["xian"],
        "scope": ["city"], "aqi": [200.0], "aqi_lower_bound": [200.0], "missing": [""],
        "above_range": ["pm25"], "primary": ["pm25"]}), ["station", "scope"])
    open_red = {"id": 1, "rule_id": "aqi-realtime", "subject": "city:xian", "state": "active",
                "level": "red"}
    sig = _signals(_rule(catalogue), store, [open_red])["city:xian"]
    assert (sig.status, sig.level) == ("insufficient", "red")
    assert sig.evidence["above_range"] == ["pm25"] and sig.evidence["lower_bound"] is True
