"""``fenwei bench forecast``: a simulated winter, trained, backtested and issued.

Two seasons are simulated with the simulator's physics (one to train on, 2025-10-15 to
2026-04-15; one to test on, 2026-10-15 to 2027-03-01) and written as hourly readings into
an embedded DuckDB store; the weather forecast feed has moderate error. The air models
train on the first season (plus the test season's first two weeks of history), then a
rolling-origin backtest runs from every 00:00 CST origin of 2026-11-01 .. 2027-02-24, with
and without the weather feed. Finally all cities' and sections' forecasts are issued once.
"""
from __future__ import annotations

import tempfile
import time

import numpy as np
from datetime import datetime, timedelta

from core.catalogue import load_catalogue
from core.store import open_store
from core.timeutil import CST

from ._backtest import run_backtest
from ._features import HORIZON_H
from ._flow import persistence_flow
from ._interface import latest_city_forecast
from ._panel import load_flow
from ._registry import Registry
from ._service import ForecastService, flow_score, issue_positions
from .sim import MetError, SimMetFeed, simulate, write_truth

TRAIN_START = datetime(2025, 10, 15, tzinfo=CST)
TEST_START = datetime(2026, 10, 15, tzinfo=CST)
SCORE_START = datetime(2026, 11, 1, tzinfo=CST)


def simulated_service(seed: int, registry_dir: str, *, train_days: float = 183,
                      test_days: float = 137, met_error: str = "moderate", cities=None):
    """A service over an in-memory store holding two simulated seasons (and its truths)."""
    cat = load_catalogue()
    store = open_store("duckdb://:memory:", cat)
    truths = [simulate(cat, TRAIN_START, train_days, 2 * seed + 1),
              simulate(cat, TEST_START, test_days, 2 * seed + 2)]
    for tr in truths:
        write_truth(store, cat, tr)
    feed = SimMetFeed(truths, MetError.preset(met_error), seed)
    return ForecastService(store, Registry(registry_dir), catalogue=cat, met_feed=feed,
                           cities=cities), truths


def run_bench(seed: int = 0, progress: bool = False) -> dict:
    out: dict = {"seed": seed}
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        svc, truths = simulated_service(seed, tmp)
        end = TEST_START + timedelta(days=137)
        out["simulate_s"] = round(time.perf_counter() - t, 1)
        panel, fb = svc.air_panel(TRAIN_START, end)
        flow_panel = load_flow(svc.store, [svc.cat.sections[s] for s in svc.sections],
                               TRAIN_START, end)
        t = time.perf_counter()
        model = svc.fit_air(fb, panel.pos(SCORE_START))
        flow = svc.fit_flow(flow_panel, flow_panel.pos(SCORE_START))
        out["train_s"] = round(time.perf_counter() - t, 1)
        origins = issue_positions(panel, panel.pos(SCORE_START), len(panel.index) - HORIZON_H,
                                  hours=(0,))
        bt = run_backtest(model, fb, origins, svc.met_feed, progress=progress)
        out.update(bt.summary())
        for p in (0.3, 0.4, 0.5):
            c = bt.contingency_at(p)
            out[f"pod_far_day12_at_p{p}"] = (round(c.pod, 3), round(c.far, 3))
        nomet = run_backtest(model, fb, origins, None, progress=progress).summary()
        out["rmse_day1_nomet"] = nomet["rmse_day1_model"]
        out["pod_day12_nomet"], out["far_day12_nomet"] = nomet["pod_day12"], nomet["far_day12"]
        frows = np.arange(flow_panel.pos(SCORE_START), len(flow_panel.index) - 1)
        out["flow_rmse_log_model"] = flow_score(flow, flow_panel, frows)
        out["flow_rmse_log_persistence"] = flow_score(_Persist(svc.sections), flow_panel, frows)
        for kind, m in (("air", model), ("flow", flow)):
            svc.registry.promote(kind, svc.registry.save(kind, m, {"backtest": out}))
        t = time.perf_counter()
        now = datetime(2027, 1, 15, 6, tzinfo=CST)
        res = svc.issue(now)
        out["issue_s"] = round(time.perf_counter() - t, 2)
        out["issue_model"] = res["model_id"]
        fc = latest_city_forecast(svc.store, "xian", now)
        out["xian_max_p_aqi_gt_200"] = round(float(fc.prob_aqi_above(200).max()), 3)
        svc.store.close()
    return out


class _Persist:
    """Persistence with the flow model's ``predict`` (for scoring alongside)."""

    def __init__(self, sections) -> None:
        self.sections = sections

    def predict(self, panel, rows, targets=None):
        return persistence_flow(panel, rows, self.sections, targets)
