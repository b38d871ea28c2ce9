"""Issue 18: observed weather as a labelled perfect-prognosis input, HJ 633 categories, and
`fenwei forecast backtest --json` on the Beijing excerpt (tests/data/beijing-prsa)."""
from __future__ import annotations

import json
import tempfile
from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from core.timeutil import CST
from forecasting import OBSERVED_MET_LABEL, ObservedMetFeed
from forecasting._backtest import category, category_accuracy
from forecasting._observed import stagnation_proxy
from forecasting._panel import Panel

from .prsa import DATA, beijing_catalogue, load_into


def test_observed_feed_returns_the_observed_hours_and_is_labelled():
    idx = pd.date_range("2016-01-01", periods=200, freq="h", tz="UTC", unit="s")
    ws = np.arange(200, dtype=float)[:, None]
    data = {"temp": ws * 0 + 1.0, "rh": ws * 0 + 80.0, "pressure": ws * 0 + 101.0,
            "wind_speed": ws, "wind_dir": ws * 0 + 90.0}
    feed = ObservedMetFeed(Panel(idx, ["beijing"], data))
    fc = feed.forecast(idx[10].to_pydatetime(), ["beijing"], 96)
    # hour 10 onwards: wind speed equals the row number, 96 of them
    assert fc.data["wind_speed"][:, 0].tolist() == list(range(10, 106))
    assert "perfect-prognosis" in OBSERVED_MET_LABEL and feed.observed


@pytest.mark.parametrize("ws, rh, want", [
    (1.0, 80.0, 1.0 * (0.3 + 1.0)),     # calm: 1 - 0/3 = 1; moist (80-30)/50 = 1.0 -> 1.3
    (4.0, 80.0, 0.0),                   # 1 - 3/3 = 0
    (2.5, 55.0, 0.5 * (0.3 + 0.5)),     # 1 - 1.5/3 = 0.5; (55-30)/50 = 0.5 -> 0.4
])
def test_stagnation_proxy(ws, rh, want):
    assert stagnation_proxy(np.array([ws]), np.array([rh]))[0] == pytest.approx(want)


def test_categories_follow_hj633():
    # I 0-50, II 51-100, III 101-150, IV 151-200, V 201-300, VI > 300
    assert category(np.array([0, 50, 51, 100, 101, 150, 151, 200, 201, 300, 301])).tolist() \
        == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5]
    # 3 of 4 days right; a NaN observation does not count
    assert category_accuracy(np.array([40, 120, 210, 310, 90]),
                             np.array([45, 149, 290, 250, np.nan])) == pytest.approx(0.75)


@pytest.fixture(scope="module")
def excerpt(tmp_path_factory):
    from core.store import open_store
    cat = beijing_catalogue()
    url = f"duckdb://{tmp_path_factory.mktemp('bt') / 'bj.duckdb'}"
    store = open_store(url, cat)
    load_into(store, sorted(DATA.glob("PRSA_Data_*_20151101-20160229.csv.gz")))
    return store, cat


def test_backtest_json_trains_before_start(excerpt, monkeypatch, tmp_path):
    import forecasting.cli as cli
    from forecasting import ForecastService, Registry
    store, cat = excerpt

    def service(store_url, registry, met_feed=None, cities=None):
        return ForecastService(store, Registry(tempfile.mkdtemp()), catalogue=cat,
                               cities=cities, sections=[])
    monkeypatch.setattr(cli, "_service", service)
    res = CliRunner().invoke(cli.app, [
        "backtest", "--city", "beijing", "--start", "2016-01-15", "--end", "2016-02-01",
        "--train-start", "2015-11-01", "--met", "observed", "--out", str(tmp_path / "b.csv"),
        "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["n_days"] == 17                      # 15 Jan .. 31 Jan, one issue a day
    assert out["train_end"] == "2016-01-15T00:00:00+08:00"   # = --start
    assert out["met"] == "observed" and "perfect-prognosis" in out["met_note"]
    for d in ("1", "2", "3", "4"):
        assert {"rmse_model", "rmse_persistence", "category_accuracy",
                "category_accuracy_persistence"} <= set(out["leads"][d])
    assert {"pod", "far"} <= set(out["leads"]["1"]) and "pod" in out and "far" in out


def test_backtest_refuses_training_past_start(excerpt, monkeypatch, tmp_path):
    import forecasting.cli as cli
    res = CliRunner().invoke(cli.app, [
        "backtest", "--start", "2016-01-15", "--end", "2016-02-01",
        "--train-end", "2016-01-20", "--store", "duckdb://:memory:"])
    assert res.exit_code != 0


def test_live_service_never_uses_observed_weather():
    import inspect

    import forecasting.cli as cli
    from forecasting import _schedule, _service
    # the live commands build the service with the stored weather-forecast feed only
    assert "ObservedMetFeed" not in inspect.getsource(cli._service)
    assert "ObservedMetFeed" not in inspect.getsource(_service.ForecastService.issue)
    assert "ObservedMetFeed" not in inspect.getsource(_schedule)
    assert datetime(2016, 1, 1, tzinfo=CST)
