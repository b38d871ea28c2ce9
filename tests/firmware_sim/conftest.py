"""Shared fixtures: simulated weeks run over TCP against an in-process collector, cached."""
from __future__ import annotations

import asyncio
import math

import numpy as np
import pandas as pd
import pytest

from core.catalogue import load_catalogue
from firmware_sim import Simulation

POLLUTANTS = ("pm25", "pm10", "so2", "no2", "co", "o3")
_RUNS: dict = {}


def run_week(scenario: str, seed: int, kinds=("air", "hydro"), **collector_options):
    """Run a scenario's week at unbounded speed with hourly data only (2061 / SL 651 34).

    No 9014 is asked for (test_sim_devices covers acknowledgements): it halves the decoding."""
    key = (scenario, seed, kinds, tuple(sorted(collector_options.items())))
    if key not in _RUNS:
        sim = Simulation(scenario, seed=seed)
        sim.scenario = sim.scenario.with_devices(realtime_interval_s=0, minute_interval_s=0,
                                                 ack_cns=())
        sim.scenario = sim.scenario.with_hydro(reports=("34",))
        col, report = asyncio.run(sim.run_local(math.inf, kinds=kinds, **collector_options))
        _RUNS[key] = (sim, col, report)
    return _RUNS[key]


def daily_city_aqi(frame: pd.DataFrame) -> pd.DataFrame:
    """Daily AQI (CST days, rows) per city (columns) from decoded 2061 data alone."""
    cat = load_catalogue()
    station_city = {s.id: s.city for s in cat.stations.values()}
    f = frame[frame.param.isin(POLLUTANTS)].rename(columns={"param": "pollutant"})
    try:
        from core.aqi import city_aqi
    except ImportError:  # pragma: no cover - the AQI engine is a sibling service
        return _pm25_only(f, station_city)
    d = city_aqi(f, station_city, "daily")
    return d.pivot(index="date", columns="station", values="aqi")


_BP = [0, 35, 60, 115, 150, 250, 350, 500]  # HJ 633-2026 PM2.5 24 h
_IAQI = [0, 50, 100, 150, 200, 300, 400, 500]


def _pm25_only(f: pd.DataFrame, station_city: dict) -> pd.DataFrame:
    pm = f[(f.pollutant == "pm25") & (f.flag == "N")].copy()
    pm["city"] = pm.station.map(station_city)
    pm["date"] = pm.ts.dt.tz_convert("Asia/Shanghai").dt.date
    hourly = pm.groupby(["city", "date", "ts"]).value.mean().reset_index()
    daily = hourly.groupby(["date", "city"]).value.mean().unstack()
    return daily.apply(lambda c: np.ceil(np.interp(c, _BP, _IAQI)))


def longest_run(mask) -> int:
    best = run = 0
    for v in mask:
        run = run + 1 if v else 0
        best = max(best, run)
    return best


@pytest.fixture(scope="session")
def catalogue():
    return load_catalogue()
