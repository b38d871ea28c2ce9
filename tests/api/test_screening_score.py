"""Screening scored on the simulator's injected interference (issue 20, Done-when): every
interference window of at least 6 h found, at most one clean station-week in twenty flagged,
on the `faults` and `tampering` scenarios, for seeds the rules were not tuned on (tuned on
seed 1, checked on 2 and 3; 4 and 5 here)."""
from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from api.workbench import ScreenConfig, score

from .test_screening_rules import DAYS, SCREEN, START, TARGET, XIAN, at, base, edit, with_flags

POLLUTANTS = ("pm25", "pm10", "so2", "no2", "o3", "co")


def test_score_arithmetic_on_built_data(catalogue):
    # 8 Xi'an stations, two screened weeks (days 28-42); TARGET sprayed (x 0.3) for 8 h on
    # day 33: one window >= 6 h, found. Clean station-weeks: 7 stations x 2 weeks + TARGET's
    # other week = 15; none flagged.
    t0, t1 = at(33, 20), at(34, 4)
    h = with_flags(edit(base(), TARGET, t0, t1, lambda v: v * 0.3))
    truth = pd.DataFrame([{"station": TARGET, "kind": "sprayed", "params": "pm25,pm10",
                           "start": t0, "end": t1, "interference": True}])
    r = score(h, truth, catalogue, *SCREEN, ScreenConfig(params=("pm25",)))
    assert (r["stations"], r["weeks"]) == (len(XIAN), 2)
    assert (r["windows"], r["found"], r["recall"]) == (1, 1, 1.0)
    assert r["clean_station_weeks"] == 7 * 2 + 1
    assert r["flagged_clean_station_weeks"] == 0 and r["false_alarm_rate"] == 0.0
    assert r["precision"] == 1.0 and r["findings"] == r["true_findings"] >= 1


def test_short_windows_are_not_scored(catalogue):
    # a 3 h window is listed but not counted in recall (the Done-when is about >= 6 h)
    t0, t1 = at(33, 20), at(33, 23)
    h = with_flags(base())
    truth = pd.DataFrame([{"station": TARGET, "kind": "sprayed", "params": "",
                           "start": t0, "end": t1, "interference": True}])
    r = score(h, truth, catalogue, *SCREEN, ScreenConfig(params=("pm25",)))
    assert r["windows"] == 0 and r["recall"] is None
    assert [w["scored"] for w in r["interference"]] == [False]


@pytest.mark.parametrize("scenario", ["tampering", "faults"])
@pytest.mark.parametrize("seed", [4, 5])
def test_simulated_interference_found_few_false_alarms(catalogue, scenario, seed):
    firmware_sim = pytest.importorskip("firmware_sim")
    sc = firmware_sim.load_scenario(scenario)
    sim = firmware_sim.Simulation(firmware_sim.with_lead(sc, "14d"), seed=seed)
    r = score(sim.hourly_frame("air", faults=True), sim.fault_windows(), catalogue,
              sc.start, sc.end, ScreenConfig(params=POLLUTANTS))
    # tampering: 9 windows >= 6 h (one of 3 h is not scored); faults: stuck (12 h), drift
    assert r["windows"] == {"tampering": 9, "faults": 2}[scenario]
    assert r["recall"] == 1.0, r["missed"]
    assert r["clean_station_weeks"] >= 60
    assert r["false_alarm_rate"] <= 1 / 20, r["false_alarms"]
