"""The demo's periodic jobs (APScheduler): derived AQI series over the last simulated days."""
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
                 every_s: float = 3.0) -> None:
        self.store, self.cat, self.clock = store, cat, clock
        self.sched = BackgroundScheduler(timezone="UTC")
        self.sched.add_job(self.aqi, "interval", seconds=every_s, max_instances=1,
                           coalesce=True, id="aqi")
        self.runs = 0

    def aqi(self) -> None:
        now = datetime.fromtimestamp(self.clock(), timezone.utc)
        try:
            recompute(self.store, self.cat, now - timedelta(days=2), now + timedelta(hours=1))
            self.runs += 1
        except Exception:  # noqa: BLE001 - a failed run is retried on the next tick
            log.exception("derived AQI job failed")

    def start(self) -> None:
        self.sched.start()

    def stop(self) -> None:
        self.sched.shutdown(wait=True)
