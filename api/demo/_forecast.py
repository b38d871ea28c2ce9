"""The demo's forecasts: a model trained at start on simulated history before the scenario,
then forecasts issued every 12 simulated hours into the store (persistence until the model
is ready), with the simulator's weather-forecast feed.

Models go to a registry per (scenario start, seed, history days) under ``models`` (default
``<data dir>/models``): a registry that already holds them is reused, not trained again (the
training is deterministic), so tests share one training per scenario and session."""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from core.catalogue import Catalogue
from core.store import Store, open_store

log = logging.getLogger(__name__)
HISTORY_H = 48          # simulated history written before the scenario's start
ISSUE_EVERY_H = 12      # twice a simulated day, as the regional centre issues them


class DemoForecasts:
    def __init__(self, store: Store, cat: Catalogue, data_dir: Path, now: Callable[[], float],
                 *, start: datetime, truth, seed: int, speed: float,
                 history_days: int = 30, models: Path | None = None) -> None:
        self.store, self.cat, self.now, self.speed = store, cat, now, speed
        self.start_t, self.truth, self.seed, self.history_days = start, truth, seed, history_days
        key = f"{start.astimezone(timezone.utc):%Y%m%dT%H%MZ}-seed{seed}-{history_days}d"
        self.registry = Path(models or data_dir / "models") / key
        self.service = None
        self.issued = 0
        self.after_issue: Callable[[], None] | None = None   # e.g. run the warning rules
        self.trained = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-forecast", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _trained_already(self) -> bool:
        from forecasting import Registry
        from forecasting.errors import RegistryError
        reg = Registry(self.registry)
        try:
            return all(reg.load(kind) for kind in ("air", "flow"))
        except RegistryError:
            return False

    def _train(self):
        from forecasting import ForecastService
        from forecasting.sim import SimMetFeed, simulate
        past = simulate(self.cat, self.start_t - timedelta(days=self.history_days),
                        self.history_days, self.seed + 1000)
        feed = SimMetFeed([past, self.truth], seed=self.seed)
        if self._trained_already():
            log.warning("demo forecast model reused from %s", self.registry)
        else:
            self._fit(past, feed)
        return ForecastService(self.store, str(self.registry), catalogue=self.cat,
                               met_feed=feed)

    def _fit(self, past, feed) -> None:
        from forecasting import ForecastService
        from forecasting.sim import write_truth
        train_store = open_store("duckdb://:memory:", self.cat)
        write_truth(train_store, self.cat, past)
        result = ForecastService(train_store, str(self.registry), catalogue=self.cat,
                                 met_feed=feed).train(self.start_t,
                                                      history_days=self.history_days)
        train_store.close()
        log.warning("demo forecast model trained on %d simulated days: %s", self.history_days,
                    {k: v for k, v in result.items() if k in ("train_s", "air_version")})

    def prepare(self) -> None:
        """Train (or reuse) the model now, in the caller's thread: call it before the alert
        rules and jobs start, so the training does not share the interpreter with them."""
        if self.trained.is_set():
            return
        try:
            self.service = self._train()
        except Exception:  # noqa: BLE001 - the rules fall back to persistence forecasts
            log.exception("demo forecast training failed; rules use persistence")
        self.write_history()
        self.trained.set()

    def write_history(self) -> int:
        """The scenario's own simulated air quality of the days before it starts, as city
        hourly readings: a deployed system has history, so the first forecast is issued at
        the start (not a day later, once a day of readings has arrived) and an episode
        already building at the start is warned from its first stage."""
        from forecasting.sim import write_truth
        try:
            return write_truth(self.store, self.cat, self.truth, kinds=("air",),
                               since=self.start_t - timedelta(hours=HISTORY_H),
                               until=self.start_t)
        except Exception:  # noqa: BLE001 - without it the first issue waits for a day of data
            log.exception("demo history not written")
            return 0

    def _run(self) -> None:
        self.prepare()
        next_issue = None
        while not self._stop.wait(0.2):
            now = datetime.fromtimestamp(self.now(), timezone.utc)
            slot = now.replace(minute=0, second=0, microsecond=0)
            slot -= timedelta(hours=slot.hour % ISSUE_EVERY_H)
            if next_issue is not None and slot < next_issue:
                continue
            self.issue(now)
            next_issue = slot + timedelta(hours=ISSUE_EVERY_H)

    def issue(self, now: datetime) -> None:
        if self.service is None:
            return
        from forecasting import NoForecast
        try:
            self.service.issue(now)
            self.issued += 1
        except NoForecast as exc:
            log.warning("no forecast issued at %s: %s", now, exc)
            return
        except Exception:  # noqa: BLE001 - try again at the next slot
            log.exception("demo forecast issue failed")
            return
        if self.after_issue is not None:
            try:
                self.after_issue()
            except Exception:  # noqa: BLE001 - the scheduled runs go on
                log.exception("run after the forecast issue failed")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
