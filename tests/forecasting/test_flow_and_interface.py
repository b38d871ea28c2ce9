"""Flow forecasts, the persistence stand-in of the rule interface, and the CLI surface."""
from datetime import datetime, timedelta

import numpy as np
import pytest
from typer.testing import CliRunner

from core.timeutil import CST
from forecasting import (BASELINE_ID, NoForecast, latest_city_forecast,
                         persistence_city_forecast)
from forecasting._flow import FLOW_DAYS, FlowModel, upstream_of
from forecasting._panel import load_flow
from forecasting.bench import SCORE_START, TEST_START


@pytest.fixture(scope="module")
def flow(small):
    svc = small[0]
    secs = [svc.cat.sections[s] for s in svc.sections]
    panel = load_flow(svc.store, secs, datetime(2025, 10, 15, tzinfo=CST),
                      TEST_START + timedelta(days=60))
    return svc, panel, svc.fit_flow(panel, panel.pos(SCORE_START))


def test_upstream_follows_the_catalogue(small):
    up = upstream_of(small[0].cat, list(small[0].cat.sections))
    assert up["weijiabao"] == ("linjiacun", 14.0) and "linjiacun" not in up


def test_flow_quantiles_and_target_probability(flow):
    svc, panel, model = flow
    rows = np.arange(panel.pos(SCORE_START), panel.pos(SCORE_START) + 10)
    ff = model.predict(panel, rows, {"huaxian": 1e6, "lintong": 0.001})
    assert ff.q.shape == (3, 10, len(svc.sections), FLOW_DAYS)
    assert np.all(ff.q[0] <= ff.q[1]) and np.all(ff.q[1] <= ff.q[2])
    h, lt = svc.sections.index("huaxian"), svc.sections.index("lintong")
    assert np.all(ff.p_below[:, h] > 0.99) and np.all(ff.p_below[:, lt] < 0.01)
    assert np.isnan(ff.p_below[:, svc.sections.index("hejin")]).all()  # no target given


def test_flow_model_beats_persistence(flow):
    svc, panel, model = flow
    from forecasting._service import flow_score
    from forecasting.bench import _Persist
    rows = np.arange(panel.pos(SCORE_START), len(panel.index) - 1)
    assert flow_score(model, panel, rows) < flow_score(_Persist(svc.sections), panel, rows)


def test_persistence_city_forecast_has_the_rule_interface(small):
    svc = small[0]
    now = datetime(2026, 11, 28, 8, 30, tzinfo=CST)
    fc = persistence_city_forecast(svc.store, "xian", now)
    assert fc.model_id == BASELINE_ID and len(fc.hourly) == 96
    last24 = fc.observed["pm25"].mean()
    assert fc.hourly["pm25_q50"].iloc[0] == pytest.approx(last24)
    seq = fc.rolling_aqi()
    assert {"ts", "window_start", "aqi_q10", "aqi_q50", "aqi_q90", "p_aqi_gt_200",
            "primary"} <= set(seq.columns)
    # the first window is exactly the last 23 observed hours plus one persisted hour
    assert seq["p_aqi_gt_200"].between(0, 1).all()
    p = fc.prob_aqi_above(200)
    assert (p.index == seq["ts"]).all()


def test_no_forecast_is_an_error_not_clean_air(small):
    with pytest.raises(NoForecast):
        latest_city_forecast(small[0].store, "xian", datetime(2026, 10, 20, tzinfo=CST))


def test_cli_lists_its_commands():
    from stack.cli import forecast_app as app   # `fenwei forecast`: its `run` is the stack's
    out = CliRunner().invoke(app, ["--help"]).output
    for cmd in ("backtest", "train", "issue", "verify", "run"):
        assert cmd in out
