"""The air model on a short simulated season: skill, no-weather fallback, issued output."""
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from core.timeutil import CST
from forecasting import BASELINE_ID, latest_city_forecast, latest_city_forecasts, run_backtest
from forecasting._features import HORIZON_H
from forecasting._service import issue_positions
from forecasting.bench import SCORE_START


def _origins(panel):
    return issue_positions(panel, panel.pos(SCORE_START), len(panel.index) - HORIZON_H,
                           hours=(0,))


def test_with_weather_beats_persistence(small):
    svc, panel, fb, model = small
    s = run_backtest(model, fb, _origins(panel), svc.met_feed, progress=False).summary()
    assert s["rmse_day1_model"] < 0.8 * s["rmse_day1_persistence"]
    assert s["pod_day12"] >= 0.7 and s["far_day12"] <= 0.35


def test_without_weather_still_beats_persistence(small):
    svc, panel, fb, model = small
    bt = run_backtest(model, fb, _origins(panel), None, progress=False)
    s = bt.summary()
    assert s["rmse_day1_model"] < s["rmse_day1_persistence"]
    assert set(bt.table["target"]) == {"pm25", "pm10", "so2", "no2", "co", "o3_8h", "aqi"}
    assert bt.table["lead_d"].max() == 4


def test_quantiles_are_ordered_and_positive(small):
    svc, panel, fb, model = small
    fc = model.predict(fb, _origins(panel)[:5], None)
    for p, q in fc.q.items():
        assert np.all(q[0] <= q[1] + 1e-9) and np.all(q[1] <= q[2] + 1e-9), p
        assert np.nanmin(q) >= 0
    assert set(fc.variant) == {"nomet"}


def test_issue_without_model_or_weather_uses_persistence(small, tmp_path):
    svc, panel, fb, model = small
    from forecasting import ForecastService, Registry
    bare = ForecastService(svc.store, Registry(tmp_path), catalogue=svc.cat,
                           cities=svc.cities)
    now = datetime(2026, 11, 20, 6, tzinfo=CST)
    res = bare.issue(now, write=False)
    assert res["model_id"] == BASELINE_ID
    assert res["air_rows"] == len(svc.cities) * 6 * HORIZON_H


def test_issue_writes_and_rules_read_it_back(small):
    svc, panel, fb, model = small
    from forecasting import Registry
    reg: Registry = svc.registry
    reg.promote("air", reg.save("air", model, {"backtest": {"rmse_day1_model": 1.0}}))
    now = datetime(2026, 11, 25, 12, 30, tzinfo=CST)
    res = svc.issue(now)
    assert res["model_id"].endswith("/met") and res["seconds"] < 5
    fc = latest_city_forecast(svc.store, "xian", now + timedelta(hours=2))
    assert fc.model_id == res["model_id"] and len(fc.hourly) == HORIZON_H
    seq = fc.rolling_aqi()
    assert len(seq) == HORIZON_H and seq["p_aqi_gt_200"].between(0, 1).all()
    assert (seq["aqi_q10"] <= seq["aqi_q50"]).all() and (seq["aqi_q50"] <= seq["aqi_q90"]).all()
    # every city in one read (what the warning rules use) gives the same forecasts
    frame = res["frame"]
    stored = frame[(frame["city"] == "weinan") & (frame["pollutant"] == "pm25")]
    both = latest_city_forecasts(svc.store, ["xian", "weinan", "nowhere"], now + timedelta(hours=2))
    assert set(both) == {"xian", "weinan"}
    assert both["xian"].hourly.equals(fc.hourly) and both["xian"].observed.equals(fc.observed)
    assert both["weinan"].hourly["pm25_q90"].to_numpy() == pytest.approx(stored["q90"].to_numpy())
    pd.testing.assert_frame_equal(both["xian"].rolling_aqi(), seq)
    # the issue is recorded, so the verification can score it later
    rows = svc.verify(now + timedelta(days=5))
    assert len(rows) and set(rows["lead_d"]) <= {1, 2, 3, 4}
    assert rows["model_id"].str.endswith("/met").all()
