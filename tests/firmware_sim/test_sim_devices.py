"""Device behaviour over TCP: retries, reconnects, commands, every report type."""
from __future__ import annotations

import asyncio
import math
from collections import Counter
from datetime import timedelta

import numpy as np
import pytest

from edge.protocols import hj212, sl651
from firmware_sim import Collector, Simulation


def _sim(ids, duration="6h", **air):
    sim = Simulation("clean-week", seed=1, station_ids=ids, duration=duration)
    if air:
        sim.scenario = sim.scenario.with_devices(**air)
    return sim


def test_retries_when_no_9014_comes():
    sim = _sim(["1462A"], duration="3h", realtime_interval_s=0)
    col, report = asyncio.run(sim.run_local(math.inf, ack_floor_real_s=0.02, reply_9014=False))
    stats = report.per_device["1462A"]
    uploads = 3 * 6 + 3  # 2051 every 10 min and 2061 every hour, all asking for a 9014
    assert stats.sent["2051"] + stats.sent["2061"] == uploads
    assert stats.retries == 3 * uploads and stats.ack_failures == uploads
    per_qn = Counter(p.qn for p in col.packets if p.cn in ("2051", "2061"))
    assert set(per_qn.values()) == {4}  # the upload and its 3 resends share the QN
    assert all(p.ack_requested for p in col.packets if p.cn in ("2051", "2061"))


def test_no_retries_when_acknowledged():
    sim = _sim(["1462A"], duration="3h", realtime_interval_s=0)
    col, report = asyncio.run(sim.run_local(math.inf))
    stats = report.per_device["1462A"]
    assert stats.retries == 0 and stats.acked == 21


def test_reconnects_after_the_platform_drops_the_link():
    async def scenario():
        sim = _sim(["1462A", "1463A", "huaxian"], duration="12h", realtime_interval_s=0)
        sim.scenario = sim.scenario.with_hydro(reports=("34",))
        async with Collector() as col:
            task = asyncio.create_task(sim.run(col.air_target, col.hydro_target,
                                               speed=12 * 3600 / 1.5))
            await asyncio.sleep(0.5)
            await col.drop_connections()
            report = await task
            await col.settle()
        return col, report

    col, report = asyncio.run(scenario())
    assert col.connections["air"] >= 4 and col.connections["hydro"] >= 2
    hourly = col.air_frame("2061")
    assert hourly.groupby("station").ts.nunique().to_dict() == {"1462A": 12, "1463A": 12}
    assert col.hydro_frame().ts.nunique() == 12


def test_realtime_minute_and_hourly_data_agree():
    sim = _sim(["1466A"], duration="2h", realtime_interval_s=30)
    col, _ = asyncio.run(sim.run_local(math.inf))
    rtd = col.air_frame("2011")
    assert rtd.ts.nunique() == 240
    minute = col.air_frame("2051")
    hourly = col.air_frame("2061")
    first = hourly.ts.min()
    for param in ("pm25", "temp"):
        r = rtd[(rtd.param == param) & (rtd.ts < first + timedelta(hours=1))].value
        m = minute[(minute.param == param) & (minute.ts < first + timedelta(hours=1))].value
        h = hourly[(hourly.param == param) & (hourly.ts == first)].value.iloc[0]
        assert len(m) == 6
        assert abs(r.mean() - h) < 0.05 * abs(h) + 0.3
        assert abs(m.mean() - h) < 0.01 * abs(h) + 0.1


def test_logger_answers_platform_commands():
    async def scenario():
        sim = _sim(["1462A"], duration="2h", realtime_interval_s=60)
        async with Collector() as col:
            task = asyncio.create_task(sim.run(col.air_target, None, speed=3600 / 1.0))
            while "1462A" not in col._writers:
                await asyncio.sleep(0.01)
            cmd = lambda cn, cp, pw="123456", qn=None: hj212.Packet(  # noqa: E731
                "22", cn, "1462A", pw, qn or f"2027092000000{cn}", hj212.make_flag(ack=True),
                cp=cp)
            await col.command("1462A", cmd("1062", {"RtdInterval": "30"}))
            await col.command("1462A", cmd("1011", {}))
            await col.command("1462A", cmd("2061", {"BeginTime": "20270919200000",
                                                    "EndTime": "20270919230000"}))
            await col.command("1462A", cmd("1061", {}, pw="wrong", qn="20270920000000999"))
            await asyncio.sleep(0.3)
            report = await task
            await col.settle()
        return col, report

    col, report = asyncio.run(scenario())
    by_cn = {}
    for p in col.packets:
        by_cn.setdefault(p.cn, []).append(p)
    answers = {p.qn: p.cp["QnRtn"] for p in by_cn["9011"]}
    assert answers["20270920000001062"] == "1" and answers["20270920000000999"] == "3"
    assert {p.qn: p.cp["ExeRtn"] for p in by_cn["9012"]}["20270920000002061"] == "1"
    assert "SystemTime" in by_cn["1011"][0].cp
    history = [p for p in by_cn["2061"] if p.qn.startswith("2027092")
               and p.data_time.hour in (20, 21, 22, 23) and p.data_time.day == 19]
    assert len(history) == 4
    assert report.per_device["1462A"].commands == Counter(
        {"1062": 1, "1011": 1, "2061": 1, "1061": 1})
    # RtdInterval went from 60 s to 30 s: more than the 120 real-time packets of 2 h at 60 s
    assert len(by_cn["2011"]) > 130


def test_sl651_reports_and_keepalives():
    sim = _sim(["huaxian"], duration="3h")
    sim.scenario = sim.scenario.with_hydro(reports=("31", "32", "34"), keepalive_s=600,
                                           timed_interval_s=1800)
    col, report = asyncio.run(sim.run_local(3 * 3600 / 1.5, kinds=("hydro",)))
    fc = Counter(f.function for f in col.frames)
    assert fc[0x34] == 3 and fc[0x32] == 6 and fc[0x31] == 3 and fc[0x2F] >= 2
    series = col.hydro_frame(functions=(0x31,))
    assert series[series.param == "stage"].ts.diff().dropna().min() == timedelta(minutes=5)
    assert len(series[series.param == "discharge"]) == 36
    assert not col.sl651_errors
    hourly = col.hydro_frame()
    truth = sim.section_hourly("discharge")["huaxian"]
    got = hourly[hourly.param == "discharge"].set_index("ts").value
    np.testing.assert_allclose(got.values, truth.reindex(got.index).values, rtol=1e-3)


@pytest.mark.parametrize("stations,air,hydro", [(5, 5, 0), (20, 17, 3), (None, 76, 8)])
def test_stations_cap_spreads_over_cities(stations, air, hydro):
    sim = Simulation("winter-episode", stations=stations)
    assert len(sim.air_stations) == air and len(sim.hydro_stations) == hydro
    assert len({s.city for s in sim.air_stations}) == min(air, 17)
