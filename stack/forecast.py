"""The forecast service as it runs: issue at start when one is due, then every
``issue_every_h`` hours of the clock, verify daily, retrain weekly (``fenwei forecast run``,
the stack's forecast process and the demo all run this).

Two sources of models and weather: production (:class:`ForecastRunner`: the registry in
settings, the weather feed from the store, a model trained from stored history when the
registry has none) and a simulator attached (:class:`ScenarioForecasts`: a model trained at
start on simulated history before the scenario, the simulator's weather-forecast feed, and the
scenario's own 48 h before its start written as city history so the first issue is at the
start).

Scenario models go to a registry per (scenario start, seed, history days) under ``models``
(default ``<data dir>/models``): a registry that already holds them is reused, not trained
again (the training is deterministic), so tests share one training per scenario and session.
After each issue ``after_issue`` is called (in a stack: a message telling the alert service
to grade the new forecasts)."""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from core.catalogue import Catalogue
from core.store import Store, open_store
from core.timeutil import CST

log = logging.getLogger(__name__)
HISTORY_H = 48          # simulated history written before the scenario's start
ISSUE_EVERY_H = 12      # twice a simulated day, as the regional centre issues them
WEATHER_AHEAD = timedelta(minutes=20)   # weather fetched this long before the issue slot


class ForecastRunner:
    """Production: issue at start when one is due, then every ``issue_every_h`` clock hours
    (CST-aligned), verify once a clock day, retrain every ``retrain_every_d`` days (promoting
    only a better model). A model is trained from stored history at start if the registry
    has none (persistence forecasts are issued meanwhile)."""

    name = "forecast"

    def __init__(self, store: Store, cat: Catalogue, now: Callable[[], float], *,
                 registry: Path, settings=None) -> None:
        from forecasting import ForecastSettings
        self.store, self.cat, self.now = store, cat, now
        self.settings = settings or ForecastSettings()
        self.every_h = self.settings.issue_every_h
        self.registry = Path(registry)
        self.service = None
        self.issued = self.failures = 0
        self.last_issue: datetime | None = None
        self.after_issue: Callable[[], None] | None = None
        self.trained = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="forecast", daemon=True)
        self._next_verify: datetime | None = None
        self._next_train: datetime | None = None
        self._weather_slot: datetime | None = None
        self.weather_fetches = self.weather_failures = 0

    def _build(self):
        from forecasting import ForecastService, StoreMetFeed
        return ForecastService(self.store, str(self.registry), catalogue=self.cat,
                               met_feed=StoreMetFeed(self.store),
                               warn_p=self.settings.warn_probability)

    def prepare(self) -> None:
        if self.trained.is_set():
            return
        try:
            self.service = self._build()
            if self.service.current("air", issuing=False)[0] is None:
                self._retrain(self._dt())
        except Exception:  # noqa: BLE001 - persistence forecasts meanwhile
            log.exception("forecast model not ready; issuing what the registry allows")
        self.trained.set()

    def _retrain(self, now: datetime) -> None:
        s = self.settings
        try:
            self.service.train(now, history_days=s.history_days, holdout_days=s.holdout_days)
        except Exception:  # noqa: BLE001 - the current model stays
            log.exception("forecast retraining failed")

    def _dt(self) -> datetime:
        return datetime.fromtimestamp(self.now(), timezone.utc)

    def start(self) -> None:
        self._thread.start()

    def _slot(self, now: datetime, every_h: int | None = None) -> datetime:
        local = now.astimezone(CST).replace(minute=0, second=0, microsecond=0)
        return (local - timedelta(hours=local.hour % (every_h or self.every_h))
                ).astimezone(timezone.utc)

    def weather_due(self, now: datetime) -> None:
        """With ``[forecast] weather_url`` set: fetch the weather forecast of every city at
        start and then ``WEATHER_AHEAD`` before each ``weather_every_h`` CST slot, so the
        issue at the slot finds a weather issue stamped before it. A failed fetch is logged
        and counted; the forecast is issued all the same (with the newest stored weather)."""
        url = self.settings.weather_url
        if not url:
            return
        slot = ForecastRunner._slot(self, now + WEATHER_AHEAD, self.settings.weather_every_h)
        if slot == self._weather_slot:
            return
        self._weather_slot = slot
        from forecasting import fetch_open_meteo
        try:
            res = fetch_open_meteo(self.store, self.cat, url=url, now=now)
        except Exception:  # noqa: BLE001 - the forecast goes on with what is stored
            self.weather_failures += 1
            log.exception("weather forecast fetch failed")
            return
        self.weather_fetches += 1
        if res.failed:
            self.weather_failures += 1
            log.warning("weather forecast not fetched for %s", res.failed)

    def _run(self) -> None:
        self.prepare()
        next_issue = None
        while not self._stop.wait(0.2):
            now = self._dt()
            self.weather_due(now)
            slot = self._slot(now)
            if next_issue is None or slot >= next_issue:
                self.issue(now)
                next_issue = slot + timedelta(hours=self.every_h)
            self._periodic(now)

    def _periodic(self, now: datetime) -> None:
        """Verification once a day, retraining every ``retrain_every_d`` days."""
        if self.service is None:
            return
        if self._next_verify is None:
            self._next_verify = now + timedelta(days=1)
            self._next_train = now + timedelta(days=self.settings.retrain_every_d)
        if now >= self._next_verify:
            self._next_verify = now + timedelta(days=1)
            try:
                self.service.verify(now)
            except Exception:  # noqa: BLE001 - verified again tomorrow
                log.exception("forecast verification failed")
        if now >= self._next_train:
            self._next_train = now + timedelta(days=self.settings.retrain_every_d)
            self._retrain(now)

    def issue(self, now: datetime) -> bool:
        if self.service is None:
            return False
        from forecasting import NoForecast
        try:
            self.service.issue(now)
        except NoForecast as exc:
            log.warning("no forecast issued at %s: %s", now, exc)
            return False
        except Exception:  # noqa: BLE001 - try again at the next slot
            self.failures += 1
            log.exception("forecast issue failed")
            return False
        self.issued += 1
        self.last_issue = now
        if self.after_issue is not None:
            try:
                self.after_issue()
            except Exception:  # noqa: BLE001 - the scheduled runs go on
                log.exception("run after the forecast issue failed")
        return True

    def stats(self) -> dict:
        return {"issued": self.issued, "failures": self.failures,
                "last_issue": self.last_issue, "model": self.service is not None,
                "weather_fetches": self.weather_fetches,
                "weather_failures": self.weather_failures}

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident:
            self._thread.join(30)


class ScenarioForecasts(ForecastRunner):
    """A simulator attached: model trained on simulated history, the simulator's weather
    feed, the scenario's own 48 h before its start as city history; issues every 12 h."""

    def __init__(self, store: Store, cat: Catalogue, data_dir: Path, now: Callable[[], float],
                 *, start: datetime, truth, seed: int, speed: float = 1.0,
                 history_days: int = 30, models: Path | None = None) -> None:
        key = f"{start.astimezone(timezone.utc):%Y%m%dT%H%MZ}-seed{seed}-{history_days}d"
        super().__init__(store, cat, now, registry=Path(models or data_dir / "models") / key)
        self.every_h = ISSUE_EVERY_H
        self.speed = speed
        self.start_t, self.truth, self.seed, self.history_days = start, truth, seed, history_days

    def _periodic(self, now: datetime) -> None:
        """A scenario lasts days: its model is not retrained mid-run."""

    def _trained_already(self) -> bool:
        from forecasting import Registry
        from forecasting.errors import RegistryError
        reg = Registry(self.registry)
        try:
            return all(reg.load(kind) for kind in ("air", "flow"))
        except RegistryError:
            return False

    def _build(self):
        from forecasting import ForecastService
        from forecasting.sim import SimMetFeed, simulate
        past = simulate(self.cat, self.start_t - timedelta(days=self.history_days),
                        self.history_days, self.seed + 1000)
        feed = SimMetFeed([past, self.truth], seed=self.seed)
        if self._trained_already():
            log.warning("scenario forecast model reused from %s", self.registry)
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
        log.warning("scenario forecast model trained on %d simulated days: %s",
                    self.history_days,
                    {k: v for k, v in result.items() if k in ("train_s", "air_version")})

    def prepare(self) -> None:
        """Train (or reuse) the model now, in the caller's thread: call it before the alert
        rules and jobs start, so the training does not share the interpreter with them."""
        if self.trained.is_set():
            return
        try:
            self.service = self._build()
        except Exception:  # noqa: BLE001 - the rules fall back to persistence
            log.exception("scenario forecast training failed; rules use persistence")
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
            log.exception("scenario history not written")
            return 0

    def _slot(self, now: datetime) -> datetime:
        slot = now.replace(minute=0, second=0, microsecond=0)
        return slot - timedelta(hours=slot.hour % ISSUE_EVERY_H)
