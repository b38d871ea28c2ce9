"""Warnings through AlertService: issue ahead with evidence and response level, upgrade,
downgrade, holding at 36 h and lifting after more than 36 h below the trigger."""
from __future__ import annotations

from datetime import timedelta

import pytest

from alerts import ManualClock

from .helpers import T0, seq

RULES = {"rule": [{"id": "air-warning", "type": "air_warning", "kind": "air.warning",
                   "title_zh": "重污染天气预警", "title_en": "Heavy-pollution warning",
                   "cities": ["xianyang"]}]}
SUBJ = "city:xianyang"


def run(svc, clock: ManualClock, hours: float = 0):
    clock.advance(timedelta(hours=hours))
    svc.run_periodic()
    return [a for a in svc.alerts() if a["subject"] == SUBJ]


def actions(svc, alert_id):
    return [a["action"] for a in svc.audit(alert_id)]


@pytest.fixture
def svc(make_service):
    return make_service(RULES)


def test_issue_upgrade_hold_and_lift_after_more_than_36h(svc, clock, forecasts):
    # yellow (one window > 200); the first such window ends with hour 47, starts at hour 24
    forecasts.set("xianyang", seq((100, 47), (201, 24)))              # onset 24 h ahead
    (a,) = run(svc, clock)
    assert (a["kind"], a["level"], a["state"]) == ("air.warning", "yellow", "active")
    ev = a["evidence"]
    assert ev["forecast"]["model_id"] == "test-model-v1" and ev["ahead"] is True
    assert ev["criterion"] == "AQI > 200 for ≥ 24 h" and ev["episode"]["type"] == "pm25"
    (issued,) = [r for r in svc.outbox() if r["channel"] == "sse"]
    body = issued["body"]
    assert "Ⅲ级" in body["text_zh"] and "response level III" in body["text_en"]
    assert "<severity>Moderate</severity>" in body["cap"] and "Ⅲ级" in body["cap"]
    assert "<certainty>Likely</certainty>" in body["cap"]

    forecasts.set("xianyang", seq((100, 12), (201, 48)))              # worse: orange
    (a,) = run(svc, clock, 1)
    assert a["level"] == "orange" and "level_up" in actions(svc, a["id"])

    forecasts.set("xianyang", seq((100, 36), (151, 10)))              # below for 36 h: hold
    (a,) = run(svc, clock, 1)
    assert (a["level"], a["open"]) == ("orange", True)
    assert svc.subject_status("air-warning", SUBJ)["level"] == "orange"

    forecasts.set("xianyang", seq((100, 37), (151, 10)))              # more than 36 h: lift
    (a,) = run(svc, clock, 1)
    assert (a["state"], a["open"]) == ("resolved", False)
    assert [r["event"] for r in svc.outbox() if r["channel"] == "sse"] == \
        ["issued", "updated", "lifted"]
    assert "<msgType>Cancel</msgType>" in svc.outbox()[-1]["body"]["cap"]


def test_downgrade_red_to_orange_when_below_the_red_trigger(svc, clock, forecasts):
    forecasts.set("xianyang", seq((301, 24), (250, 48)))
    (a,) = run(svc, clock)
    assert a["level"] == "red" and "Ⅰ级" in svc.outbox()[-1]["body"]["text_zh"]
    forecasts.set("xianyang", seq((250, 60)))                         # ≤ 300 throughout
    (a,) = run(svc, clock, 1)
    assert a["level"] == "orange" and "level_down" in actions(svc, a["id"])
    assert a["evidence"]["response_zh"] == "Ⅱ级"


def test_upgrade_is_immediate_but_a_lower_forecast_is_held(svc, clock, forecasts):
    forecasts.set("xianyang", seq((201, 48)))
    (a,) = run(svc, clock)
    forecasts.set("xianyang", seq((201, 30)))                         # yellow only, still > 150
    (a,) = run(svc, clock, 1)
    assert a["level"] == "orange" and a["state"] == "active"


def test_no_forecast_is_insufficient_never_all_clear(svc, clock, forecasts):
    forecasts.set("xianyang", seq((201, 48)))
    (a,) = run(svc, clock)
    forecasts.set("xianyang", [float("nan")] * 96)
    (a,) = run(svc, clock, 1)
    assert a["open"] and a["level"] == "orange"
    assert svc.subject_status("air-warning", SUBJ)["status"] == "insufficient"
    assert "insufficient_data" in actions(svc, a["id"])


def test_2019_preset_by_rule_config(make_service, clock, forecasts):
    rules = {"rule": [dict(RULES["rule"][0], grading="unified-2019")]}
    svc = make_service(rules)
    forecasts.set("xianyang", seq((201, 24)))          # 24 window ends = 47 h > 200
    assert run(svc, clock) == []
    forecasts.set("xianyang", seq((201, 25)))          # 25 window ends = 48 h
    (a,) = run(svc, clock, 1)
    assert a["level"] == "yellow" and a["evidence"]["grading"]["id"] == "unified-2019"
