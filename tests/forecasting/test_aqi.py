"""Forecast AQI helpers against DOMAIN.md worked values and the AQI engine."""
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from core.aqi import daily_aqi
from forecasting._aqi import (aqi, breakpoint_at, edition_of, iaqi, prob_above,
                              prob_aqi_above, window_indicators)

BEFORE = edition_of([pd.Timestamp("2026-01-10T00:00Z")])[0]
AFTER = edition_of([pd.Timestamp("2026-03-10T00:00Z")])[0]


@pytest.mark.parametrize("conc, ed, expected", [
    (156.0, "before", 206), (156.0, "after", 206), (75.0, "before", 100), (75.0, "after", 114),
    (600.0, "before", 500)], ids=["156-2012", "156-2026", "75-2012", "75-2026", "capped"])
def test_pm25_iaqi_worked_values(conc, ed, expected):
    e = BEFORE if ed == "before" else AFTER
    assert iaqi("pm25", np.array([conc]), np.array([e]))[0] == expected


def test_breakpoint_and_probabilities():
    assert breakpoint_at("pm25", 200, BEFORE) == pytest.approx(150.0)
    assert breakpoint_at("pm10", 200, AFTER) == pytest.approx(350.0)
    assert prob_above(100, 150, 220, 150) == pytest.approx(0.5)
    assert prob_above(100, 150, 220, 220) == pytest.approx(0.1, abs=1e-6)
    assert prob_above(100, 150, 220, 100) == pytest.approx(0.9, abs=1e-6)
    low = {k: (np.array([1.0]),) * 3 for k in ("pm10", "so2", "no2", "co", "o3_8h")}
    quant = {"pm25": (np.array([100.0]), np.array([150.0]), np.array([220.0])), **low}
    assert prob_aqi_above(quant, np.array([BEFORE]))[0] == pytest.approx(0.5)


def test_missing_indicator_gives_no_aqi():
    conc = {k: np.array([10.0]) for k in ("pm25", "pm10", "so2", "no2", "co", "o3_8h")}
    conc["co"] = np.array([np.nan])
    assert np.isnan(aqi(conc, np.array([BEFORE]))[0])


def test_window_aqi_matches_the_engine():
    rng = np.random.default_rng(3)
    ts = pd.date_range("2026-01-04T16:00Z", periods=72, freq="h")  # 3 CST days
    vals = {"pm25": rng.uniform(20, 260, 72), "pm10": rng.uniform(40, 400, 72),
            "so2": rng.uniform(5, 60, 72), "no2": rng.uniform(10, 90, 72),
            "co": rng.uniform(0.3, 2.5, 72), "o3": rng.uniform(5, 180, 72)}
    engine = daily_aqi(pd.DataFrame({"station": "x", "ts": ts, **vals}))
    hourly = {k: v[:, None] for k, v in vals.items()}
    w = window_indicators(hourly, np.array([0, 24, 48]))
    ours = aqi(w, edition_of(ts[[0, 24, 48]])[:, None])[:, 0]
    np.testing.assert_array_equal(ours, engine["aqi"].to_numpy(float))
