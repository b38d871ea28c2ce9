"""spring-lowflow through the eco-flow rule: graded alerts, hysteresis, Monday list, compliance,
targets that change on their dates."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from alerts import ManualClock
from core.ecoflow import TargetStore, daily_flow, monday_list, monthly_compliance
from core.store import open_store

from .conftest import open_alerts, recipients_of
from .river_helpers import at_cst, daily_truth, hydro_readings, spring_lowflow_with_recovery

RULE = {"id": "ecoflow-daily", "type": "ecoflow", "kind": "river.ecoflow",
        "title_zh": "生态流量预警", "title_en": "Ecological flow warning",
        "sections": ["huaxian", "lintong"]}
APR = [date(2027, 4, 1) + timedelta(days=i) for i in range(14)]


@pytest.fixture(scope="module")
def readings():
    low, wet = spring_lowflow_with_recovery()
    return hydro_readings(low) + hydro_readings(wet)


@pytest.fixture
def store(catalogue, readings):
    s = open_store("duckdb://:memory:", catalogue)
    s.write(readings)
    return s


@pytest.fixture
def targets(tmp_path, catalogue):
    return TargetStore(f"sqlite:///{tmp_path / 'targets.db'}", catalogue)


def _run_days(svc, clock, days, subject="section:huaxian"):
    """Run the rule at 09:00 CST of each day; the level (or None) of the open alert after."""
    out = {}
    for d in days:
        clock.set(at_cst(d))
        svc.run_periodic("ecoflow-daily")
        alert = open_alerts(svc, "ecoflow-daily", subject)
        out[d] = alert[0]["level"] if alert else None
    return out


def test_spring_lowflow_yellow_then_red_then_lifts_with_hysteresis(make_service, store,
                                                                   targets, readings):
    truth = daily_truth(readings, "huaxian")
    assert truth[APR[0]] < 12.0 and truth[APR[0]] >= 0.8 * 12.0      # the data, by hand
    clock = ManualClock(at_cst(APR[1]))
    svc = make_service([RULE], store, clock, targets=targets)
    levels = _run_days(svc, clock, APR[1:13])        # evaluations Apr 2 .. Apr 13
    # Apr 1, 2 below target -> yellow; Apr 3 is the 3rd consecutive day -> red
    assert levels[APR[1]] == levels[APR[2]] == "yellow"
    assert levels[APR[3]] == "red"
    assert truth[APR[10]] >= 12.0                    # Apr 11 back above target ...
    assert levels[APR[11]] == "red"                  # ... held for one day (hysteresis)
    assert levels[APR[12]] is None                   # Apr 12 the second day: lifted
    (alert,) = [a for a in svc.alerts(rule_id="ecoflow-daily")
                if a["subject"] == "section:huaxian"]
    assert alert["state"] == "resolved" and alert["kind"] == "river.ecoflow"
    # routed to the cities along the reach and the water bureau
    assert recipients_of(svc, alert["id"]) == ["team-weinan", "water-shaanxi"]
    events = [r["event"] for r in svc.outbox(alert_id=alert["id"])
              if r["recipient_id"] == "team-weinan"]
    assert events == ["issued", "updated", "lifted"]
    assert alert["evidence"]["target_placeholder"] is True
    # the scheduled run stored the derived daily series
    back = store.read_frame("flow_daily", at_cst(APR[0], 0), at_cst(APR[12], 0),
                            {"section": ["huaxian"]})
    assert len(back) == 12 and back["q_mean"].iloc[0] == pytest.approx(truth[APR[0]])


def test_monday_list_and_monthly_compliance_match_a_hand_computation(catalogue, store,
                                                                    targets, readings):
    truth = daily_truth(readings, "huaxian")
    daily = daily_flow(store, catalogue, targets.table(), date(2027, 3, 29), date(2027, 5, 1))
    ml = monday_list(daily, date(2027, 4, 12)).set_index("section")   # week Apr 5 .. 11
    missed = [d for d in APR if date(2027, 4, 5) <= d < date(2027, 4, 12) and truth[d] < 12]
    assert ml.loc["huaxian", "days_missed"] == len(missed) == 6
    assert ml.loc["huaxian", "days_missed_list"] == ",".join(d.isoformat() for d in missed)
    assert ml.loc["huaxian", "deficit_m3"] == pytest.approx(
        sum((12.0 - truth[d]) * 86400 for d in missed))
    first = monday_list(daily, date(2027, 4, 5)).set_index("section")  # Mar 29 .. Apr 4
    assert first.loc["huaxian", "days_missed"] == 4
    assert first.loc["huaxian", "days_unknown"] == 3                  # no data before Apr 1
    mc = monthly_compliance(daily, 2027, 4).set_index("section")
    met = sum(1 for d, q in truth.items() if d.month == 4 and q >= 12.0)
    assert mc.loc["huaxian", "met"] == met
    assert mc.loc["huaxian", "compliance_pct"] == round(100.0 * met / 30, 2)
    assert not mc.loc["huaxian", "passes"]


def test_seasonal_target_applies_on_its_dates_through_the_rule(make_service, store, targets):
    targets.set({"section": "huaxian", "valid_from": "2027-01-01", "months": [4, 5, 6],
                 "target_m3s": 10.0, "source": "spawning season (test)"}, who="admin-key-7")
    assert targets.table().target("huaxian", date(2027, 3, 31)).target_m3s == 12.0
    clock = ManualClock(at_cst(APR[1]))
    svc = make_service([RULE], store, clock, targets=targets)
    levels = _run_days(svc, clock, APR[1:2])
    assert levels[APR[1]] == "blue"             # 11.06 >= 10 but below 1.2 x 10
    (alert,) = open_alerts(svc, "ecoflow-daily", "section:huaxian")
    assert alert["evidence"]["target_m3s"] == 10.0
    assert alert["evidence"]["target_source"] == "spawning season (test)"


def test_target_change_applies_from_valid_from_and_is_audited(make_service, store, targets):
    clock = ManualClock(at_cst(APR[1]))
    svc = make_service([RULE], store, clock, targets=targets)
    _run_days(svc, clock, APR[1:12])                  # red, held on Apr 12 (hysteresis)
    targets.set({"section": "huaxian", "valid_from": "2027-04-12", "target_m3s": 20.0,
                 "source": "revised (test)"}, who="admin-key-9")
    levels = _run_days(svc, clock, APR[12:13])        # grades Apr 12 (19.7 < 20) with 20
    assert levels[APR[12]] == "yellow"                # lowered, not lifted: below the new target
    (alert,) = open_alerts(svc, "ecoflow-daily", "section:huaxian")
    ev = alert["evidence"]
    assert ev["target_m3s"] == 20.0 and ev["recent"][-2]["day"] == "2027-04-11"
    assert ev["recent"][-2]["grade"] == "blue"        # Apr 11 still graded against 12
    last = targets.audit()[-1]
    assert last["who"] == "admin-key-9" and '"valid_from": "2027-04-12"' in last["detail"]


def _forecast(store, issue_day: date, p: list[float], target: float = 12.0):
    import pandas as pd
    days = [at_cst(issue_day + timedelta(days=i + 1), 0) for i in range(len(p))]
    store.write_frame("forecast_flow", pd.DataFrame({
        "time": days, "section": "huaxian", "issue": issue_day.strftime("%Y%m%dT0000Z"),
        "lead_d": [float(i + 1) for i in range(len(p))], "q10": 8.0, "q50": 11.0, "q90": 14.0,
        "target": target, "p_below": p, "model_id": "test"}), ["section", "issue"])


def test_forecast_low_flow_raises_an_expected_below_target_notice(make_service, catalogue,
                                                                  targets):
    store = open_store("duckdb://:memory:", catalogue)
    rule = {"id": "eco-fc", "type": "ecoflow_forecast", "kind": "river.ecoflow_forecast",
            "sections": ["huaxian"]}
    clock = ManualClock(at_cst(APR[0]))
    svc = make_service([rule], store, clock, targets=targets)
    _forecast(store, APR[0], [0.2, 0.7, 0.9])
    svc.run_periodic()
    (alert,) = open_alerts(svc, "eco-fc")
    assert alert["kind"] == "river.ecoflow_forecast" and alert["level"] == "blue"
    assert alert["evidence"]["first_day_below"] == APR[2].isoformat()
    assert recipients_of(svc, alert["id"]) == ["team-weinan", "water-shaanxi"]
    clock.set(at_cst(APR[1]))
    _forecast(store, APR[1], [0.1, 0.2, 0.3])         # the next issue: no longer expected
    svc.run_periodic()
    assert open_alerts(svc, "eco-fc") == []


@pytest.mark.parametrize("data_until,lifted", [(APR[12], True), (APR[9], False)],
                         ids=["recovered, then silent: lifted", "silent while red: held"])
def test_trailing_unknown_days_hold_the_level(make_service, catalogue, targets, readings,
                                              data_until, lifted):
    """Days without data after the last known one hold the level: a recovery completed
    before the data stopped lifts the alert, silence alone never does."""
    store = open_store("duckdb://:memory:", catalogue)
    store.write([r for r in readings if r.ts < at_cst(data_until, 0)])
    clock = ManualClock(at_cst(APR[1]))
    svc = make_service([RULE], store, clock, targets=targets)
    assert _run_days(svc, clock, APR[1:9])[APR[8]] == "red"
    clock.set(at_cst(APR[13] + timedelta(days=2)))   # Apr 16: the last 3+ days unknown
    svc.run_periodic("ecoflow-daily")
    (alert,) = [a for a in svc.alerts(rule_id="ecoflow-daily")
                if a["subject"] == "section:huaxian"]
    if lifted:
        assert alert["state"] == "resolved"
        last = svc.audit(alert["id"])[-1]["evidence"]
        assert last["last_known_day"] == APR[11].isoformat() and last["q_mean_m3s"] is None
    else:
        assert alert["open"] and alert["level"] == "red"
