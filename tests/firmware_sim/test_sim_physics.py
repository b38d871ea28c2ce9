"""Physics and forecast: deterministic, Fen-Wei-like cycles, episodes, rivers."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.catalogue import load_catalogue
from firmware_sim import (Episode, Flood, HourGrid, HydroConfig, PhysicsConfig, Simulation,
                          compute_truth, parse_time)

CAT = load_catalogue()


def _truth(start, days, seed=1, **cfg):
    t0 = parse_time(start)
    grid = HourGrid.span(t0, t0 + pd.Timedelta(days=days).to_pytimedelta())
    return compute_truth(CAT, grid, PhysicsConfig(**cfg), seed)


def test_same_seed_same_truth_different_seed_different_truth():
    a, b, c = (_truth("2027-01-01", 20, s) for s in (7, 7, 8))
    for p in a.air:
        np.testing.assert_array_equal(a.air[p], b.air[p])
    np.testing.assert_array_equal(a.discharge["huaxian"], b.discharge["huaxian"])
    assert not np.allclose(a.air["pm25"], c.air["pm25"])


def test_physically_possible_values():
    t = _truth("2027-01-01", 365)
    for p, arr in t.air.items():
        par = CAT.parameter(p)
        assert np.isfinite(arr).all()
        assert arr.min() >= par.min and arr.max() <= par.max, p
    for q in t.discharge.values():
        assert q.min() >= 0


def test_heating_season_and_summer_ozone():
    t = _truth("2027-01-01", 365)
    pm = t.city_hourly("pm25")["xian"]
    o3 = t.city_frame("o3")["xian"]
    jan, aug = pm[pm.index.month == 1].mean(), pm[pm.index.month == 8].mean()
    assert jan > 2 * aug
    summer = o3[o3.index.month.isin([6, 7])]
    by_hour = summer.groupby(summer.index.tz_convert("Asia/Shanghai").hour).mean()
    assert 13 <= by_hour.idxmax() <= 17 and by_hour.max() > 2.5 * by_hour.min()
    assert summer.max() > 160  # afternoon peaks reach the O3 1 h IAQI-100 line


def test_diurnal_cycle_winter_pm_higher_at_night():
    t = _truth("2027-01-05", 40)
    pm = t.city_frame("pm25")["xian"]
    by_hour = pm.groupby(pm.index.tz_convert("Asia/Shanghai").hour).mean()
    assert by_hour[[22, 23, 0, 1, 2]].mean() > 1.2 * by_hour[[12, 13, 14, 15]].mean()


def test_weekly_cycle_lower_emission_on_sundays():
    from firmware_sim._air import _weekly
    assert list(_weekly(np.arange(7))) == [1, 1, 1, 1, 1, 0.94, 0.88]


def test_episode_builds_over_days_moves_and_clears_with_a_cold_front():
    start = parse_time("2026-12-10")
    ep = Episode(start, 132, 0.85)
    t = _truth("2026-12-05", 16, episodes=(ep,), jitter_h=0)
    daily = t.city_daily("pm25")
    xian = daily["xian"]
    days = [d for d in xian.index if d >= start.date()]
    build = xian[days[:5]]
    assert (np.diff(build.values) > 0).sum() >= 3  # builds over several days
    assert xian.max() > 250 and xian[days[7]] < 0.3 * xian.max()  # cleared
    # the front reaches Baoji (west) before Luoyang (east): compare when PM2.5 collapses
    pm = t.city_frame("pm25")
    drop = {c: pm[c][pm.index > pd.Timestamp(start) + pd.Timedelta(hours=100)].diff().idxmin()
            for c in ("baoji", "luoyang")}
    assert drop["baoji"] < drop["luoyang"]
    # weather consistent with it: calm and humid in the episode, cold and windy after
    ws, rh, temp = (t.city_daily(p)["xian"] for p in ("wind_speed", "rh", "temp"))
    peak, after = days[4], days[6]
    assert ws[peak] < 1.0 and rh[peak] > 75
    assert ws[after] > 2 * ws[peak] and temp[after] < temp[peak] - 2
    pr = t.city_daily("pressure")["xian"]
    assert pr[after] > pr[peak]


def test_river_seasons_and_routing_downstream():
    t = _truth("2027-01-01", 365, seed=3)
    q = t.section_frame()
    monthly = q.groupby(q.index.month).mean()
    assert monthly.loc[[8, 9], "huaxian"].mean() > 2 * monthly.loc[[3, 4], "huaxian"].mean()
    assert q["huaxian"].max() > 5 * q["huaxian"].median()  # summer floods
    wei = ["linjiacun", "weijiabao", "xianyang-wei", "lintong", "huaxian"]
    assert list(q[wei].mean().values) == sorted(q[wei].mean().values)


def test_flood_travels_downstream_with_the_travel_times():
    start = parse_time("2027-03-01")
    flood = Flood(start + pd.Timedelta(days=3).to_pytimedelta(), "linjiacun", 800.0)
    t = _truth("2027-03-01", 12, hydro=HydroConfig(storm_rate=0, floods=(flood,)))
    q = t.section_frame()
    peaks = {s: q[s].idxmax() for s in ("linjiacun", "weijiabao", "xianyang-wei", "lintong",
                                        "huaxian")}
    lags = [(peaks[b] - peaks[a]) / pd.Timedelta(hours=1)
            for a, b in zip(list(peaks), list(peaks)[1:])]
    for lag, travel in zip(lags, (14, 12, 16, 14)):
        assert travel <= lag <= travel + 6
    # stage rises with discharge by the rating curve
    s, d = t.stage["huaxian"], t.discharge["huaxian"]
    order = np.argsort(d)
    assert (np.diff(s[order]) >= -1e-9).all()


def test_forecast_is_deterministic_and_error_grows_with_lead():
    sim = Simulation("winter-episode", seed=4)
    issue = "2026-12-12T08:00:00+08:00"
    f1, f2 = sim.forecast(issue), sim.forecast(issue)
    pd.testing.assert_frame_equal(f1, f2)
    assert f1.lead_h.max() == 96 and len(f1) == 96 * len(sim.truth.cities)
    truth = sim.truth.city_frame("temp").stack().rename("truth")
    errs = []
    for day in range(10, 16):
        f = sim.forecast(f"2026-12-{day}T08:00:00+08:00", error_scale=1.0)
        f = f.join(truth, on=["valid_time", "city"])
        errs.append(f.assign(err=(f.temp - f.truth) ** 2).groupby(f.lead_h // 24).err.mean())
    rmse = np.sqrt(pd.concat(errs, axis=1).mean(axis=1))
    assert rmse.iloc[0] < rmse.iloc[3] and 0.5 < rmse.iloc[1] < 3.0
    perfect = sim.forecast(issue, error_scale=0.0).join(truth, on=["valid_time", "city"])
    np.testing.assert_allclose(perfect.temp, perfect.truth)
    assert not f1.temp.equals(sim.forecast("2026-12-12T09:00:00+08:00").temp)


def test_hourly_wind_direction_is_averaged_on_the_circle():
    t = _truth("2027-01-01", 3)
    t.air["wind_dir"][:2, 0] = [350.0, 10.0]
    assert t.city_hourly("wind_dir").iloc[0, 0] == pytest.approx(0.0, abs=1e-9) or \
        t.city_hourly("wind_dir").iloc[0, 0] == pytest.approx(360.0)
