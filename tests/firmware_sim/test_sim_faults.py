"""The `faults` scenario: every injected fault shows in the decoded data as injected."""
from __future__ import annotations

import asyncio
import math
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from firmware_sim import Simulation

AIR = ["1462A", "1463A", "1464A", "1465A", "1466A", "1467A", "1468A", "1469A", "1470A",
       "1471A", "1472A", "1473A", "1474A"]
HYDRO = ["lintong", "weijiabao", "xianyang-wei", "huaxian"]
ADDR = {"lintong": "0041102500", "weijiabao": "0041101500", "xianyang-wei": "0041102100",
        "huaxian": "0041103100"}


@pytest.fixture(scope="module")
def run():
    sim = Simulation("faults", station_ids=AIR + HYDRO)
    sim.scenario = sim.scenario.with_devices(realtime_interval_s=0).with_hydro(reports=("34",))
    col, report = asyncio.run(sim.run_local(math.inf, ack_floor_real_s=0.05,
                                            swapped_crc_devices={"1472A"}))
    return sim, col, report


@pytest.fixture(scope="module")
def hourly(run):
    sim, col, _ = run
    decoded = col.air_frame("2061")
    truth = sim.hourly_frame("air").melt(id_vars=["ts", "station", "city"], var_name="param",
                                         value_name="truth")
    return decoded.merge(truth, on=["station", "ts", "param"], how="left")


def _hours(sim, a: str, b: str):
    """Hour starts (UTC) from offset a to b after the scenario start."""
    t0 = pd.Timestamp(sim.start)
    return pd.date_range(t0 + pd.Timedelta(a.replace("d", "D")), t0 + pd.Timedelta(b.replace("d", "D")), freq="h",
                         inclusive="left").tz_convert("UTC")


def _series(hourly, station, param):
    s = hourly[(hourly.station == station) & (hourly.param == param)]
    return s.set_index("ts").sort_index()


def test_unaffected_station_matches_truth(hourly):
    s = _series(hourly, "1462A", "no2")
    assert len(s) == 168 and (s.flag == "N").all()
    np.testing.assert_allclose(s.value, s.truth, atol=0.051)


def test_stuck_value(run, hourly):
    sim = run[0]
    s = _series(hourly, "1462A", "pm25")
    inside = s.loc[_hours(sim, "25h", "36h")]  # hours fully inside +1d .. +1d12h
    assert inside.value.nunique() == 1
    assert s.loc[_hours(sim, "40h", "60h")].value.nunique() > 10


def test_drift(run, hourly):
    sim = run[0]
    s = _series(hourly, "1463A", "o3")
    ratio = (s.value / s.truth).loc[_hours(sim, "2d", "5d")]
    days = (ratio.index - pd.Timestamp(sim.start)).total_seconds() / 86400 - 2
    expected = 1 + 0.25 * (days + 1 / 48)  # drift evaluated at mid-hour
    np.testing.assert_allclose(ratio, expected, rtol=0.02)
    before = (s.value / s.truth).loc[_hours(sim, "0h", "47h")]
    np.testing.assert_allclose(before, 1.0, rtol=0.02)


def test_spikes(hourly):
    s = _series(hourly, "1464A", "pm10")
    ratio = s.value / s.truth
    spikes = (ratio > 5).sum()
    assert 1 <= spikes <= 30  # rate 0.05 of 168 hours
    assert ((ratio > 5) | (abs(ratio - 1) < 0.01)).all()


@pytest.mark.parametrize("station,flag,start,end", [
    ("1465A", "C", "26h", "28h"), ("1466A", "M", "81h", "85h"), ("1467A", "F", "96h", "102h"),
], ids=["calibration", "maintenance", "stop"])
def test_flag_periods(run, hourly, station, flag, start, end):
    sim = run[0]
    s = hourly[hourly.station == station]
    window = set(_hours(sim, start, end))
    flagged = s[s.flag == flag]
    assert set(flagged.ts) == window
    assert (s[~s.ts.isin(window)].flag == "N").all()
    if flag == "F":
        assert flagged.value.isna().all()
    else:
        assert flagged.value.notna().all()


def test_dropout_loses_data(run, hourly):
    sim, _, report = run
    s = _series(hourly, "1468A", "pm25")
    missing = set(_hours(sim, "0h", "168h")) - set(s.index)
    assert len(missing) == 5  # reports due during the 5 h dropout were never made
    assert report.per_device["1468A"].backfilled == 0


def test_comms_outage_is_backfilled(run, hourly):
    _, col, report = run
    s = _series(hourly, "1469A", "pm25")
    assert len(s) == 168  # nothing lost: buffered during the outage, back-filled after
    stats = report.per_device["1469A"]
    assert stats.backfilled >= 6 and stats.connects == 2
    # back-filled packets arrive late and in order: DataTimes after the gap are increasing
    firsts = {}
    for p in col.packets:
        if p.mn == "1469A" and p.cn == "2061":
            firsts.setdefault(p.qn, p.data_time)  # a resend (no 9014 in time) repeats a QN
    times = list(firsts.values())
    assert times == sorted(times)


def test_clock_skew(hourly):
    s = _series(hourly, "1470A", "pm25")
    assert len(s) == 168 and (s.index.minute == 5).all()


def test_crc_faults(run):
    _, col, report = run
    errors = col.hj212_errors
    bad = [e for e in errors if e == ("bad_crc", "1471A")]
    assert bad and all(mn != "1472A" for _, mn in errors)
    # line noise: the 9014 never came, the logger resent, the resend got through
    assert report.per_device["1471A"].retries >= len(bad) // 2
    swapped = [p for p in col.packets if p.mn == "1472A"]
    # (a CRC whose two bytes are equal reads the same swapped: about 1 in 256)
    assert swapped and sum(p.crc_swapped for p in swapped) >= 0.97 * len(swapped)


def test_malformed_and_oversize(run):
    _, col, _ = run
    reasons = {(r, mn) for r, mn in col.hj212_errors}
    assert ("bad_field", "1473A") in reasons
    oversize = [mn for r, mn in col.hj212_errors if r == "oversize"]
    assert oversize and set(oversize) == {"1474A"}


def test_gauge_off_while_neighbours_agree(run):
    sim, col, _ = run
    h = col.hydro_frame()
    q = h[h.param == "discharge"].pivot(index="ts", columns="station", values="value")
    truth = sim.section_hourly("discharge")
    truth.index = truth.index.rename("ts")
    window = _hours(sim, "2d", "4d")
    ratio = q[ADDR["lintong"]] / truth["lintong"].reindex(q.index)
    np.testing.assert_allclose(ratio.loc[window], 4.0, rtol=0.01)
    outside = ratio.drop(window)
    np.testing.assert_allclose(outside, 1.0, rtol=0.01)
    for neighbour in ("xianyang-wei", "huaxian"):
        r = q[ADDR[neighbour]] / truth[neighbour].reindex(q.index)
        np.testing.assert_allclose(r, 1.0, rtol=0.01)


def test_hydro_stop_sends_invalid(run):
    sim, col, _ = run
    h = col.hydro_frame()
    w = h[(h.station == ADDR["weijiabao"]) & (h.flag != "N")]
    assert set(w.ts) == set(_hours(sim, "5d", "5d3h"))
    assert w.value.isna().all()
