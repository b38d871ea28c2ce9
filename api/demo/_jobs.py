"""The demo's periodic jobs (APScheduler), on simulated time: derived AQI over the last
simulated days and daily flow; at the end of a ``--duration`` run, one final pass."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Callable

from apscheduler.schedulers.background import BackgroundScheduler

from alerts.aqi import recompute
from core.catalogue import Catalogue
from core.store import Store

log = logging.getLogger(__name__)


class DerivedJobs:
    def __init__(self, store: Store, cat: Catalogue, clock: Callable[[], float], *,
                 alerts=None, forecasts=None, every_s: float = 6.0) -> None:
        self.store, self.cat, self.clock, self.alerts = store, cat, clock, alerts
        self.forecasts = forecasts
        self.sched = BackgroundScheduler(timezone="UTC")
        self.sched.add_job(self.aqi, "interval", seconds=every_s, max_instances=1,
                           coalesce=True, id="aqi")
        self.runs = 0
        if forecasts is not None and alerts is not None:
            forecasts.after_issue = self.grade_forecasts

    def grade_forecasts(self) -> None:
        """Right after a forecast issue: the rules that grade forecasts (regional first, as
        in the rule file), so every issue is graded once however busy the scheduler is."""
        from ._alerts import FORECAST_GRADING
        for rule in self.alerts.rules.periodic:
            if rule.config.type in FORECAST_GRADING:
                self.alerts.run_soon(rule.id)   # in turn with the scheduled rule passes

    def aqi(self) -> None:
        now = datetime.fromtimestamp(self.clock(), timezone.utc)
        try:
            recompute(self.store, self.cat, now - timedelta(days=2), now + timedelta(hours=1))
            self.runs += 1
        except Exception:  # noqa: BLE001 - a failed run is retried on the next tick
            log.exception("derived AQI job failed")

    def final(self) -> None:
        """After the simulated period: derive once more and let every periodic rule run."""
        self.aqi()
        if self.forecasts is not None:
            self.forecasts.issue(datetime.fromtimestamp(self.clock(), timezone.utc))
        if self.alerts is not None:
            for rule in self.alerts.rules.periodic:
                self.alerts.run_periodic(rule.id)
            self.alerts.tick()

    def start(self) -> None:
        self.sched.start()
        if self.forecasts is not None:
            self.forecasts.start()

    def stop(self) -> None:
        if self.forecasts is not None:
            self.forecasts.stop()
        self.sched.shutdown(wait=True)
