"""A gauge reading wildly off while its neighbours agree: a data-quality alert, no river alert."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from alerts import ManualClock
from core.store import open_store
from firmware_sim import Simulation
from firmware_sim._scenario import load_scenario

from .conftest import open_alerts, recipients_of
from .river_helpers import hydro_readings

ECO = {"id": "ecoflow-daily", "type": "ecoflow", "kind": "river.ecoflow"}
GAUGE = {"id": "gauge", "type": "gauge_plausibility", "kind": "quality.gauge"}


def _faults_store(catalogue, gauge_factor: float | None):
    """A fault-free lead-in week, then the faults scenario (its gauge_off at Lintong, +2d for
    2d, optionally with another factor)."""
    sc = load_scenario("faults")
    if gauge_factor is not None:
        sc = replace(sc, faults=tuple(replace(f, value=gauge_factor) if f.kind == "gauge_off"
                                      else f for f in sc.faults))
    sim = Simulation(sc)
    lead = Simulation("faults", start=sim.start - timedelta(days=7))
    store = open_store("duckdb://:memory:", catalogue)
    store.write(hydro_readings(lead, faults=False) + hydro_readings(sim))
    return store, sim


@pytest.mark.parametrize("factor", [None, 0.08], ids=["packaged x4 (high)", "x0.08 (low)"])
def test_gauge_fault_gives_quality_alert_and_no_river_alert(make_service, catalogue, factor):
    store, sim = _faults_store(catalogue, factor)
    clock = ManualClock(sim.start)
    svc = make_service([ECO, GAUGE], store, clock)
    seen = set()
    for h in range(6, 24 * 7, 6):
        clock.set(sim.start + timedelta(hours=h))
        svc.run_periodic()
        seen |= {(a["kind"], a["subject"]) for a in open_alerts(svc)}
    assert ("quality.gauge", "station:lintong") in seen
    assert {k for k, _ in seen} == {"quality.gauge"}          # no river.* alert at all
    assert {s for _, s in seen} == {"station:lintong"}        # only the faulty gauge
    (alert,) = svc.alerts(rule_id="gauge")
    assert alert["state"] == "resolved"                       # the fault ended
    assert "ops-platform" in recipients_of(svc, alert["id"])
    ratio = svc.audit(alert["id"])[0]["evidence"]["ratio_to_neighbours"]   # when opened
    assert ratio == pytest.approx(factor or 4.0, rel=0.25)


def test_without_the_plausibility_check_the_low_fault_would_raise_a_river_alert(
        make_service, catalogue):
    store, sim = _faults_store(catalogue, 0.08)
    clock = ManualClock(sim.start)
    svc = make_service([{**ECO, "check_gauges": False}], store, clock)
    clock.set(sim.start + timedelta(days=3, hours=9))
    svc.run_periodic()
    assert [(a["subject"], a["level"]) for a in open_alerts(svc)] == [("section:lintong", "red")]
