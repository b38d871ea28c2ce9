"""Tampering faults (issue 20): the reported hourly values are the fault-free ones changed as
the scenario says, the data stay flagged valid, and the injected windows are public truth."""
from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from firmware_sim import INTERFERENCE_KINDS, Simulation, load_scenario, with_lead


@pytest.fixture(scope="module")
def sim():
    return Simulation("tampering", seed=2)


@pytest.fixture(scope="module")
def frames(sim):
    return sim.hourly_frame("air"), sim.hourly_frame("air", faults=True)


def _hours(sim, station, start, hours):
    t0 = pd.Timestamp(sim.start) + pd.Timedelta(start)
    return t0, t0 + pd.Timedelta(hours=hours)


def _pick(frame, station, t0, t1):
    f = frame[(frame.station == station) & (frame.ts >= t0) & (frame.ts < t1)]
    return f.set_index("ts").sort_index()


def test_sprayed_inlet_reads_forty_percent(sim, frames):
    clean, seen = frames
    # 1465A: sprayed from +2d20h for 8 h, value 0.4: e.g. a true 120.0 reads 48.0
    t0, t1 = _hours(sim, "1465A", "2D20h", 8)
    a, b = _pick(clean, "1465A", t0, t1), _pick(seen, "1465A", t0, t1)
    assert len(b) == 8
    np.testing.assert_allclose(b.pm25, a.pm25 * 0.4, atol=0.051)   # rounded to 0.1 as sent
    np.testing.assert_allclose(b.pm10, a.pm10 * 0.4, atol=0.051)
    np.testing.assert_allclose(b.no2, a.no2, atol=0.051)              # gases untouched
    assert (b.pm25_flag == "N").all() and (b.pm10_flag == "N").all()  # stays valid
    # the hour after the window is the station's own again
    after = _pick(seen, "1465A", t1, t1 + pd.Timedelta(hours=1))
    np.testing.assert_allclose(after.pm25, _pick(clean, "1465A", t1, t1 + pd.Timedelta(hours=1))
                               .pm25, atol=0.051)


def test_pm10_only_spray_leaves_pm25(sim, frames):
    clean, seen = frames
    t0, t1 = _hours(sim, "SIM-TONGCH-02", "17D8h", 12)
    a, b = _pick(clean, "SIM-TONGCH-02", t0, t1), _pick(seen, "SIM-TONGCH-02", t0, t1)
    np.testing.assert_allclose(b.pm10, a.pm10 * 0.4, atol=0.051)
    np.testing.assert_allclose(b.pm25, a.pm25, atol=0.051)


def test_replaced_values_are_a_week_old(sim, frames):
    # SIM-LINFEN-02 from +9d12h for 30 h: each hour reads what the station read 168 h before
    # (the point value at mid-hour: within a few % of that hour's mean)
    clean, seen = frames
    t0, t1 = _hours(sim, "SIM-LINFEN-02", "9D12h", 30)
    b = _pick(seen, "SIM-LINFEN-02", t0, t1)
    week = pd.Timedelta(hours=168)
    a = _pick(clean, "SIM-LINFEN-02", t0 - week, t1 - week)
    np.testing.assert_allclose(b.pm25.to_numpy(), a.pm25.to_numpy(), rtol=0.05, atol=1.0)
    # the week before was clean and this is the episode: the replaced values are far lower
    now = _pick(clean, "SIM-LINFEN-02", t0, t1)
    assert (b.pm25 / now.pm25).median() < 0.7


def test_fault_windows_are_the_truth(sim):
    w = sim.fault_windows()
    tam = w[w.category == "tampering"]
    assert set(tam.kind) == {"sprayed", "blocked", "analyser_offset", "replaced"}
    assert tam.interference.all() and set(tam.kind) <= INTERFERENCE_KINDS
    row = tam[tam.station == "1470A"].iloc[0]
    # +9d from 2026-12-01 00:00 CST = 2026-12-09 16:00 UTC, 72 h
    assert row.start == pd.Timestamp("2026-12-09T16:00Z") and row.hours == 72
    assert row.params == "pm25,pm10" and row.value == 0.6
    assert (tam.hours >= 6).sum() == 9 and (tam.hours < 6).sum() == 1


def test_faults_scenario_interference_kinds():
    w = Simulation("faults").fault_windows()
    assert set(w[w.interference].kind) == {"stuck", "drift"}
    assert not w[w.kind.isin(["spike", "calibration", "dropout", "gauge_off"])].interference.any()


def test_lead_keeps_faults_where_they_were():
    sc = load_scenario("tampering")
    led = with_lead(sc, "14d")
    assert led.start == sc.start - timedelta(days=14) and led.end == sc.end
    assert led.faults == sc.faults
