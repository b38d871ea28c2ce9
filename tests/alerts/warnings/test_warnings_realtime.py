"""Real-time alerts: hourly AQI (aqi_hourly series in a real DuckDB store, or computed from
readings) crossing 200 / 300 with no warning covering the city."""
from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from core.wire import Reading

from .helpers import T0, seq

RT = {"id": "aqi-realtime", "type": "aqi_realtime", "kind": "air.realtime",
      "title_zh": "实时重污染", "scopes": ["city"]}
WARN = {"id": "air-warning", "type": "air_warning", "kind": "air.warning", "cities": ["xian"]}


def put_hourly(store, city: str, aqi: float, hour=T0 - timedelta(hours=1)) -> None:
    store.write_frame("aqi_hourly", pd.DataFrame({
        "time": [pd.Timestamp(hour)], "station": [city], "scope": ["city"],
        "aqi": [float(aqi)], "primary": ["pm25"]}), ["station", "scope"])


def realtime(svc):
    return svc.alerts(open_only=True, rule_id="aqi-realtime")


@pytest.mark.parametrize("aqi,want", [(200, None), (201, "orange"), (300, "orange"),
                                      (301, "red")])
def test_crossing_into_heavy_pollution_without_a_warning(make_service, store, aqi, want):
    svc = make_service({"rule": [RT]})
    put_hourly(store, "xian", aqi)
    svc.run_periodic()
    got = realtime(svc)
    assert [a["level"] for a in got] == ([want] if want else [])
    if want:
        ev = got[0]["evidence"]
        assert (ev["aqi"], ev["city"], ev["source"]) == (aqi, "xian", "aqi_hourly")
        assert "预报未预见" in svc.outbox()[-1]["body"]["text_zh"]


def test_a_covering_warning_means_no_realtime_alert(make_service, store, forecasts):
    svc = make_service({"rule": [WARN, RT]})
    forecasts.set("xian", seq((210, 48)))
    put_hourly(store, "xian", 250)
    put_hourly(store, "weinan", 250)
    svc.run_periodic()
    assert [a["subject"] for a in svc.alerts(open_only=True, rule_id="air-warning")] == \
        ["city:xian"]
    assert [a["subject"] for a in realtime(svc)] == ["city:weinan"]


def test_stale_hours_never_page_and_data_loss_is_not_all_clear(make_service, store, clock):
    svc = make_service({"rule": [RT]})
    put_hourly(store, "xian", 260, hour=T0 - timedelta(hours=4))
    svc.run_periodic()
    assert realtime(svc) == []
    put_hourly(store, "xian", 260)
    svc.run_periodic()
    (a,) = realtime(svc)
    clock.advance(timedelta(hours=3))                      # no newer hour arrives
    svc.run_periodic()
    assert realtime(svc)[0]["id"] == a["id"]
    assert svc.subject_status("aqi-realtime", "city:xian")["status"] == "insufficient"


def test_computed_from_readings_when_no_derived_series(make_service, store, catalogue):
    svc = make_service({"rule": [dict(RT, scopes=["station"], cities=["xian"])]})
    st = next(s for s in catalogue.stations.values() if s.city == "xian" and s.kind == "air"
              and s.national)
    vals = {"pm25": 160.0, "pm10": 90.0, "so2": 10.0, "no2": 40.0, "co": 0.8, "o3": 50.0}
    store.write([Reading(st.id, "xian", "air", T0 - timedelta(hours=h), "PT1H", dict(vals))
                 for h in range(1, 4)])
    svc.run_periodic()
    (a,) = realtime(svc)
    assert (a["subject"], a["level"]) == (f"station:{st.id}", "orange")
    assert a["evidence"]["source"] == "computed" and a["evidence"]["aqi"] == 210
