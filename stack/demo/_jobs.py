"""The demo's periodic work, from the stack's builders: the derived-AQI job and, after each
forecast issue, the forecast-grading rules; at the end of a ``--duration`` run, one final
pass of everything."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Callable

from core.catalogue import Catalogue
from core.store import Store

from ..services import AqiJob

log = logging.getLogger(__name__)


class DerivedJobs:
    def __init__(self, store: Store, cat: Catalogue, clock: Callable[[], float], *,
                 alerting=None, forecasts=None, every_s: float = 6.0,
                 speed: float = 1.0) -> None:
        self.clock, self.alerting, self.forecasts = clock, alerting, forecasts
        self.aqi_job = AqiJob(store, cat, clock, every="5m", speed=speed, floor_real_s=every_s)
        if forecasts is not None and alerting is not None:
            forecasts.after_issue = alerting.grade_forecasts

    @property
    def runs(self) -> int:
        return self.aqi_job.runs

    def aqi(self) -> None:
        self.aqi_job.run_once()

    def final(self) -> None:
        """After the simulated period: derive once more and let every periodic rule run."""
        self.aqi()
        if self.forecasts is not None:
            self.forecasts.issue(datetime.fromtimestamp(self.clock(), timezone.utc))
        if self.alerting is not None:
            svc = self.alerting.svc
            for rule in svc.rules.periodic:
                svc.run_periodic(rule.id)
            svc.tick()
            # the clock is held at the period's end: send the groups still waiting, and
            # deliver everything before the demo stops
            self.alerting.flush()

    def start(self) -> None:
        self.aqi_job.start()
        if self.forecasts is not None:
            self.forecasts.start()

    def stop(self) -> None:
        if self.forecasts is not None:
            self.forecasts.stop()
        self.aqi_job.stop()
