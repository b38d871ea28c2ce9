"""Inhibition as configuration: an open city warning holds its city's real-time alerts and
lets them go once it is lifted; a pipeline-down alert holds the station alerts behind it.
Rules come from the settings (``inhibit``), matched on labels; real PostgreSQL, injected
clock."""
from __future__ import annotations

from datetime import timedelta

import pytest

from alerts import AlertSettings, Signal

from alerts_platform_helpers import PM25_RULES, T0, recipients_file, series

RULES = {"escalation": PM25_RULES["escalation"], "rule": PM25_RULES["rule"] + [
    {"id": "city-warning", "type": "threshold", "kind": "air.warning", "parameter": "pm25",
     "levels": [{"level": "orange", "above": 1e9}]},          # raised by signals only
    {"id": "pipeline", "type": "threshold", "kind": "liveness.pipeline_down",
     "parameter": "pm25", "levels": [{"level": "red", "above": 1e9}]}]}
CITY_WARNING_HOLDS_REALTIME = {"name": "city warning covers real-time", "equal": ["city"],
                               "source": {"kind": "air.warning"},
                               "target": {"kind": "air.realtime"}}
PIPELINE_HOLDS_STATIONS = {"name": "pipeline down", "source": {"kind": "liveness.pipeline_down"},
                           "target": {"subject": "station:*"}}


def _svc(make_service, url, tmp_path, receiver):
    rcpts = recipients_file(tmp_path, {t: [{"type": "webhook", "url": receiver.url}]
                                       for t in ("team-xian", "team-baoji")})
    return make_service(url, rules=RULES, recipients=rcpts,
                        inhibit=[CITY_WARNING_HOLDS_REALTIME, PIPELINE_HOLDS_STATIONS])


def _sent(receiver):
    return sorted((b["rule"], b["subject"]["id"], b["event"]) for b in receiver.bodies())


def test_city_warning_inhibits_then_releases_realtime(pg_url, make_service, clock, receiver,
                                                      tmp_path):
    svc = _svc(make_service, pg_url, tmp_path, receiver)
    clock.set(T0)
    svc.signal("city-warning", "city:xian", Signal("firing", T0, "orange", {}, ("xian",)))
    svc.ingest(series("1462A", T0 - timedelta(minutes=20), [300] * 5))        # Xi'an: held
    svc.ingest(series("SIM-BAOJI-01", T0 - timedelta(minutes=20), [300] * 5))  # Baoji: not
    svc.tick()
    svc.dispatch_once()
    assert receiver.wait_count(2)
    assert _sent(receiver) == [("city-warning", "city:xian", "issued"),
                               ("pm25-station", "station:SIM-BAOJI-01", "issued")]
    (held,) = [a for a in svc.alerts(open_only=True) if a["subject"] == "station:1462A"]
    assert held["state"] == "active" and not held["notified"]
    trail = svc.audit(held["id"])
    assert trail[-1]["action"] == "inhibited" and "inhibited by alert" in trail[-1]["reason"]
    clock.set(T0 + timedelta(minutes=5))
    svc.tick()
    svc.dispatch_once()
    assert len(receiver.requests) == 2                    # still held: the warning is on
    svc.signal("city-warning", "city:xian", Signal("clear", T0, None, {}, ("xian",)))
    clock.set(T0 + timedelta(minutes=6))
    svc.tick()                                            # the warning lifted: un-suppressed
    svc.dispatch_once()
    assert receiver.wait_count(4)
    assert ("pm25-station", "station:1462A", "issued") in _sent(receiver)
    assert ("city-warning", "city:xian", "lifted") in _sent(receiver)


def test_pipeline_down_inhibits_station_alerts(sqlite_url, make_service, clock, receiver,
                                               tmp_path):
    svc = _svc(make_service, sqlite_url, tmp_path, receiver)
    clock.set(T0)
    svc.signal("pipeline", "pipeline:ingest", Signal("firing", T0, "red", {}, ()))
    svc.ingest(series("SIM-BAOJI-01", T0 - timedelta(minutes=20), [300] * 5))
    svc.tick()
    svc.dispatch_once()
    assert receiver.requests == []       # the operators' alert goes to operators, not here
    (st,) = [a for a in svc.alerts(open_only=True) if a["subject"].startswith("station:")]
    assert not st["notified"]
    svc.signal("pipeline", "pipeline:ingest", Signal("clear", T0, None, {}, ()))
    svc.tick()
    svc.dispatch_once()
    assert receiver.wait_count(1)
    assert _sent(receiver) == [("pm25-station", "station:SIM-BAOJI-01", "issued")]


@pytest.mark.parametrize("rule", [
    {"source": {"colour": "red"}, "target": {}},
    {"source": {}, "target": {}, "equal": ["town"]},
], ids=["unknown matcher label", "unknown equal label"])
def test_a_bad_inhibition_rule_is_refused(rule):
    with pytest.raises(ValueError, match="unknown labels"):
        AlertSettings(inhibit=[rule])
