"""The production forecast process (``fenwei forecast run`` builds this runner): with an empty
registry it trains from stored history at start, issues at start (not at the next slot), tells
whoever listens (``after_issue``), and the issue carries the trained model's id."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from core.store import open_store
from forecasting import ForecastSettings, latest_city_forecast
from forecasting.sim import simulate, write_truth
from stack.forecast import ForecastRunner

NOW = datetime(2026, 12, 20, 1, 30, tzinfo=timezone.utc)   # 09:30 CST


@pytest.mark.timeout(300)
def test_trains_from_history_and_issues_at_start(tmp_path, catalogue):
    store = open_store("duckdb://:memory:", catalogue)
    days = 40
    write_truth(store, catalogue, simulate(catalogue, NOW - timedelta(days=days), days, 7),
                until=NOW)
    told = []
    runner = ForecastRunner(store, catalogue, lambda: NOW.timestamp(),
                            registry=tmp_path / "models",
                            settings=ForecastSettings(history_days=36, holdout_days=6))
    runner.after_issue = lambda: told.append(1)
    runner.start()
    try:
        deadline = datetime.now() + timedelta(seconds=240)
        while not told and datetime.now() < deadline:
            runner._stop.wait(0.5)
    finally:
        runner.stop()
    assert told == [1] and runner.issued == 1
    model_id = runner.service.current("air", issuing=False)[1]
    assert model_id.startswith("air-"), model_id
    fc = latest_city_forecast(store, "xian", NOW)
    assert fc.model_id.startswith(model_id), fc.model_id
    store.close()
