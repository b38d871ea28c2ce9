"""Scheduled retraining and the schedule itself."""
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from core.timeutil import CST
from forecasting import ForecastSettings, build_scheduler
from forecasting.bench import TEST_START


def test_retrain_saves_and_promotes_only_better(small):
    svc = small[0]
    now = TEST_START + timedelta(days=58)
    first = svc.train(now, history_days=420, holdout_days=14)
    assert first["air_version"] and first["flow_version"]
    assert {"rmse_day1_model", "pod_day12", "far_day12"} <= set(first["air"])
    current = svc.registry.current_version("air")
    assert current is not None
    meta = svc.registry.meta("air", first["air_version"])
    assert meta["training"]["end"] < str(now) and meta["features"]["nomet"]["pm25"]
    # the same data again: the candidate cannot beat the current model's own score
    again = svc.train(now, history_days=420, holdout_days=14)
    assert again["air_promoted"] is False
    assert svc.registry.current_version("air") == current


def test_schedule_has_issue_verify_and_retrain_jobs(small):
    sched = build_scheduler(small[0], ForecastSettings(issue_every_h=6),
                            scheduler=BackgroundScheduler(timezone=CST),
                            clock=lambda: datetime(2026, 12, 1, tzinfo=CST))
    assert {j.id for j in sched.get_jobs()} == {"issue", "verify", "retrain"}
