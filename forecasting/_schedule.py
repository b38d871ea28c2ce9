"""Scheduled issuing, verification and retraining (APScheduler 3, CST cron triggers)."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from core.timeutil import CST

from ._settings import ForecastSettings

log = logging.getLogger(__name__)


def _safe(name: str, func, clock):
    def job() -> None:
        try:
            result = func(clock())
            log.info("forecast job done: job=%s result=%s", name,
                     {k: v for k, v in (result or {}).items() if not hasattr(v, "shape")}
                     if isinstance(result, dict) else type(result).__name__)
        except Exception:  # noqa: BLE001 - a failed run must not stop the schedule
            log.exception("forecast job failed: job=%s", name)
    return job


def build_scheduler(service, settings: ForecastSettings | None = None, *,
                    scheduler=None, clock=lambda: datetime.now(timezone.utc)):
    """Jobs: ``issue`` every ``issue_every_h`` hours (at :05 past, CST-aligned), ``verify``
    daily, ``retrain`` every ``retrain_every_d`` days at 03:30 CST (promotes only a better
    model)."""
    s = settings or ForecastSettings()
    sched = scheduler or BlockingScheduler(timezone=CST)
    sched.add_job(_safe("issue", service.issue, clock), CronTrigger(
        hour=f"*/{s.issue_every_h}", minute=5, timezone=CST), id="issue", coalesce=True,
        max_instances=1)
    sched.add_job(_safe("verify", service.verify, clock), CronTrigger(
        hour=s.verify_hour_cst, minute=20, timezone=CST), id="verify", coalesce=True)
    sched.add_job(_safe("retrain", lambda now: service.train(
        now, history_days=s.history_days, holdout_days=s.holdout_days), clock),
        CronTrigger(day=f"*/{s.retrain_every_d}", hour=3, minute=30, timezone=CST),
        id="retrain", coalesce=True, max_instances=1)
    return sched
