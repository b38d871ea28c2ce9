"""The builders: one function per service, called by ``fenwei <service> run``, by
``fenwei stack up`` (through those commands, one process each) and by ``fenwei demo`` (in one
process, with the embedded broker, DuckDB, SQLite and the simulator's clock swapped in).

Each takes the shared settings and the clock, plus only what a caller swaps. Settings that
depend on the clock's speed (a warped clock replays a scenario at, say, 3600x) are fitted here,
in one place: a real second of hiccup is an hour of simulated silence at 3600x.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable

from core.catalogue import Catalogue
from core.clock import Clock
from core.mqtt import TlsFiles
from core.store import Store
from core.timeutil import parse_duration

log = logging.getLogger(__name__)

FORECAST_ISSUED_TOPIC = "fenwei/v1/events/forecast-issued"


# ---------------------------------------------------------------- ingest
def build_ingest(cfg, *, catalogue: Catalogue, clock: Callable[[], float],
                 store: Store | None = None):
    """The ingest service (``ingest.Ingestor``) from its settings (``IngestConfig``)."""
    from ingest import Ingestor
    return Ingestor(cfg, catalogue=catalogue, store=store, clock=clock)


# ---------------------------------------------------------------- edge
def fit_agent_config(cfg, speed: float, *, fsync: bool = True):
    """An agent's settings fitted to the clock's speed (status every real second, QC skew
    and the loggers' clock tolerance of two real seconds: a real delay of a second is a
    simulated hour at speed 3600, not a wrong clock to set with CN 1012); ``fsync=False``
    where every device shares one test disk."""
    if speed <= 1.0 and fsync:
        return cfg
    upd: dict = {}
    if speed > 1.0:
        upd["mqtt"] = cfg.mqtt.model_copy(update={"status_interval_s": 1.0})
        upd["qc"] = cfg.qc.model_copy(update={"max_skew_s": max(cfg.qc.max_skew_s,
                                                                2.0 * speed)})
        upd["clock"] = cfg.clock.model_copy(update={
            "tolerance_s": max(cfg.clock.tolerance_s, 2.0 * speed),
            "window_s": max(cfg.clock.window_s, 4.0 * speed)})
    if not fsync:
        upd["queue"] = cfg.queue.model_copy(update={"synchronous": "NORMAL"})
    return cfg.model_copy(update=upd)


def build_edge(cfg, *, catalogue: Catalogue, clock: Callable[[], float], mqtt_url: str,
               speed: float = 1.0, fsync: bool = True, settings=None):
    """An edge agent (``edge.agent.EdgeAgent``), not started."""
    from edge.agent import EdgeAgent
    cfg = fit_agent_config(cfg, speed, fsync=fsync)
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    kwargs = {"settings": settings} if settings is not None else {"mqtt_url": mqtt_url}
    return EdgeAgent(cfg, catalogue=catalogue, clock=clock, **kwargs)


def station_devices(catalogue: Catalogue, stations: Iterable[str] | None, *,
                    secret: str | None = None):
    """The catalogue's devices, only of ``stations`` when given; passwords derived from the
    site ``secret``, or without one the simulator's (drills and the demo only)."""
    from edge.agent import default_devices
    wanted = set(stations) if stations is not None else None
    return [d for d in default_devices(catalogue, secret)
            if wanted is None or d.station in wanted]


# ---------------------------------------------------------------- alerts
# The composition's alert policy where the settings name none (``[alerts]``, FENWEI_ALERTS_*):
# a city's heavy-pollution warning covers that city's real-time alerts (they keep their state
# and audit; an issue or update held is sent when the warning ends, if still active), and
# the catch-all's copies are grouped as their recipients' messages would be.
DEFAULT_INHIBIT = [{"name": "city warning covers real-time", "source": {"kind": "air.warning"},
                    "target": {"kind": "air.realtime"}, "equal": ["city"]}]
# a group waits at least this many real seconds on a warped clock: what one simulated instant
# produces (a rule pass over every city, an hour of readings) takes about a real second
GROUP_FLOOR_REAL_S = 1.0


def fit_alert_settings(settings, speed: float):
    """The alert settings with the composition's defaults (``DEFAULT_INHIBIT``, the
    catch-all grouped) where they are not set, and grouping fitted to the clock's speed: at
    3600x a 30 s group wait is 8 ms of real time, so nothing would arrive within it. On a
    warped clock the wait is at least ``GROUP_FLOOR_REAL_S`` real seconds and the interval
    at least the wait; a wait of "0s" (grouping off) stays off."""
    from pydantic import TypeAdapter
    given = settings.model_fields_set
    upd: dict = {}
    if "inhibit" not in given:    # validated as the settings' own field would be
        upd["inhibit"] = TypeAdapter(type(settings).model_fields["inhibit"].annotation
                                     ).validate_python(DEFAULT_INHIBIT)
    if "group_catchall" not in given:
        upd["group_catchall"] = True
    wait = parse_duration(settings.group_wait).total_seconds()
    if speed > 1.0 and wait > 0:
        wait = max(wait, GROUP_FLOOR_REAL_S * speed)
        every = max(parse_duration(settings.group_interval).total_seconds(), wait)
        upd.update(group_wait=f"{int(wait)}s", group_interval=f"{int(every)}s")
    return settings.model_copy(update=upd) if upd else settings


class Alerting:
    """The alert service with every rule family, the edge status board (liveness) and the
    audited target table bound; ``grade_forecasts`` runs the forecast-grading rules (after
    each forecast issue, in turn with the scheduled passes)."""

    def __init__(self, *, catalogue: Catalogue, store: Store, clock: Callable[[], float],
                 state_url: str | None = None, mqtt_url: str | None = None,
                 speed: float = 1.0, notify_webhook: str | None = None,
                 share_group: str | None = None, forecast_driven: bool = False,
                 client_id: str | None = None, targets=None, rules=None,
                 settings=None) -> None:
        from alerts import (AlertService, AlertSettings, FuncClock, packaged_rules,
                            rule_floor_s)
        from alerts.rules.liveness import EdgeStatusBoard, bind_rules
        from core.ecoflow import TargetStore
        over: dict = {k: v for k, v in (("state_url", state_url), ("mqtt_url", mqtt_url),
                                        ("share_group", share_group)) if v is not None}
        if speed > 1.0:
            over.update(
                tick_interval_s=1.0, poll_interval_s=0.2, backoff_base_s=1.0,
                backoff_max_s=10.0, schedule_speed=speed,
                schedule_min_interval_s=rule_floor_s(speed),
                # above 3600x one worker cannot pass every rule four times a simulated day
                rule_workers=1 if speed <= 3600 else 4,
                # a replay is a drill: marked exercise, copied to the catch-all for every
                # team it would reach, and shown on its own dashboards
                exercise=True, broadcast_exercises=True,
                # observations more than a real minute old are history, not news
                retrospective_after=f"{int(max(1800, 60 * speed))}s")
        settings = settings.model_copy(update=over) if settings is not None \
            else AlertSettings(**over)
        settings = fit_alert_settings(settings, speed)
        self.clock = FuncClock(clock)
        if rules is None and not settings.rules_file:
            rules = packaged_rules(speed, forecast_driven=forecast_driven)
        self.svc = AlertService(settings, catalogue=catalogue, clock=self.clock,
                                extra_webhook=notify_webhook, store=store, rules=rules)
        s = self.svc.settings
        self.board = EdgeStatusBoard(self.clock).start(s.mqtt_url, tls=TlsFiles.from_settings(s)) \
            if s.mqtt_enabled else None
        bind_rules(self.svc, targets=targets or TargetStore(s.state_url, catalogue),
                   edge_status=self.board)
        self._events = None
        self._client_id = client_id
        self._speed = speed
        self._halt = threading.Event()
        self._watch: threading.Thread | None = None

    def start(self, *, listen_for_forecasts: bool = False) -> "Alerting":
        self.svc.start()
        if self._speed > 1.0 and self.svc.notifier.group_wait:
            self._watch = threading.Thread(target=self._watch_hold, name="alerts-hold",
                                           daemon=True)
            self._watch.start()
        if listen_for_forecasts:
            self._events = _subscribe(self.svc.settings.mqtt_url, FORECAST_ISSUED_TOPIC,
                                      lambda *_: self.grade_forecasts(),
                                      client_id=self._client_id,
                                      tls=TlsFiles.from_settings(self.svc.settings))
        return self

    def grade_forecasts(self) -> None:
        from alerts import FORECAST_GRADING
        for rule in self.svc.rules.periodic:
            if rule.config.type in FORECAST_GRADING:
                self.svc.run_soon(rule.id)

    def release_groups(self) -> int:
        """Send the groups still waiting now (their rows due at once), and retry now the rows
        waiting out a backoff: called only while the clock stands still (a replay held at
        its period's end), where a wait in clock time would never end; returns the rows."""
        with self.svc.engine.begin() as conn:
            n = self.svc.notifier.release_groups(conn, self.clock.now(), retries=True)
        if n and self.svc.dispatcher is not None:
            self.svc.dispatcher.wake()
        return n

    def _watch_hold(self, every_real_s: float = 0.5) -> None:
        """A replay's clock held at the end of its period stands still: a group wait in
        clock time would never end, so while the clock stands still waiting groups go out."""
        last = None
        while not self._halt.wait(every_real_s):
            now = self.clock.now()
            if now == last:
                _safe(self.release_groups)
            last = now

    def flush(self, timeout_real_s: float = 30.0) -> bool:
        """Send what waits for its group and wait (at most ``timeout_real_s``) until no
        notification is left to deliver; False when some still are."""
        import sqlalchemy as sa
        deadline = time.monotonic() + timeout_real_s
        while True:
            _safe(self.release_groups)
            try:
                with self.svc.engine.connect() as conn:
                    left = conn.execute(sa.text(
                        "SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'sending')"
                    )).scalar()
            except sa.exc.SQLAlchemyError:
                left = None
            if left == 0:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)

    def ready(self) -> bool:
        sub = self.svc.subscriber
        return (sub is None or sub.subscribed.is_set()) and \
            (self.board is None or self.board.subscribed.is_set())

    def stop(self) -> None:
        self._halt.set()
        if self._watch is not None:
            self._watch.join(5)
        if self._events is not None:
            self._events.loop_stop()
            self._events.disconnect()
        self.svc.stop()
        if self.board is not None:
            self.board.stop()


def _subscribe(url: str, topic: str, on_message, *, client_id: str | None = None,
               tls: TlsFiles | None = None):
    """A small subscriber (QoS 1; a persistent session when ``client_id`` is given, so an
    event published while the service restarts is not missed)."""
    from alerts.channels.mqtt import mqtt_client
    import uuid
    c = mqtt_client(url, client_id or f"fenwei-{uuid.uuid4().hex[:10]}",
                    clean=client_id is None, tls=tls)
    c.on_connect = lambda cl, *a: cl.subscribe(topic, qos=1)
    c.on_message = lambda cl, ud, msg: _safe(on_message, msg)
    c.loop_start()
    return c


def _safe(fn, *args) -> None:
    try:
        fn(*args)
    except Exception:  # noqa: BLE001 - one bad event never stops a subscriber
        log.exception("event handler failed")


# ---------------------------------------------------------------- derived AQI
class AqiJob:
    """Hourly and daily AQI kept current as data arrive: every ``every`` (clock time; at
    most once every ``floor_real_s`` real seconds) the last ``lookback`` is recomputed, so
    late data are taken in. Stored through the store port (``core.aqi.recompute``)."""

    def __init__(self, store: Store, catalogue: Catalogue, clock: Callable[[], float], *,
                 every: str | timedelta = "5m", lookback: str | timedelta = "2d",
                 speed: float = 1.0, floor_real_s: float = 2.0) -> None:
        # floor 2 real s: at 3600x the derived AQI trails the clock by about two simulated
        # hours (a run costs 0.1-0.35 s); it was 6 s, six hours behind at 3600x
        every = every if isinstance(every, timedelta) else parse_duration(every)
        self.lookback = lookback if isinstance(lookback, timedelta) else parse_duration(lookback)
        self.store, self.cat, self.clock = store, catalogue, clock
        self.every_real_s = max(every.total_seconds() / max(speed, 1e-9), floor_real_s)
        self.runs = self.failures = 0
        self.last_ok: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="aqi-job", daemon=True)

    def run_once(self) -> int:
        from core.aqi import recompute
        now = datetime.fromtimestamp(self.clock(), timezone.utc)
        try:
            out = recompute(self.store, self.cat, now - self.lookback, now + timedelta(hours=1))
        except Exception:  # noqa: BLE001 - retried at the next tick
            self.failures += 1
            log.exception("derived AQI job failed")
            return 0
        self.runs += 1
        self.last_ok = self.clock()
        return out if isinstance(out, int) else 0

    def _loop(self) -> None:
        while not self._stop.is_set():
            t = time.monotonic()
            self.run_once()
            # at least as long as the run took: never more than half a core
            self._stop.wait(max(self.every_real_s, time.monotonic() - t))

    def start(self) -> "AqiJob":
        self._thread.start()
        return self

    def stats(self) -> dict:
        return {"runs": self.runs, "failures": self.failures, "last_ok": self.last_ok}

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident:
            self._thread.join(60)


# ---------------------------------------------------------------- forecasts
def publish_forecast_issued(url: str, *, tls: TlsFiles | None = None) -> Callable[[], None]:
    """An ``after_issue`` hook for a forecast process: tell the alert service (QoS 1)."""
    import json
    from alerts.channels.mqtt import mqtt_client
    import uuid
    client = mqtt_client(url, f"fenwei-forecast-{uuid.uuid4().hex[:8]}", tls=tls)
    client.loop_start()

    def publish() -> None:
        info = client.publish(FORECAST_ISSUED_TOPIC, json.dumps({"event": "issued"}), qos=1)
        info.wait_for_publish(10)
    publish.client = client  # type: ignore[attr-defined]
    return publish


# ---------------------------------------------------------------- api
def build_api(store: Store, catalogue: Catalogue, *, settings, clock, alert_service=None,
              targets=None):
    """The HTTP app; alert state, targets and keys in the state database."""
    try:
        from api import build_app
    except ImportError:
        build_app = None
    if build_app is not None and alert_service is None and targets is None:
        return build_app(settings, clock=clock, store=store, catalogue=catalogue)
    from api.app import create_app
    from api.auth import KeyStore
    from core.ecoflow import TargetStore
    return create_app(store, catalogue, KeyStore(settings.state_url),
                      targets=targets or TargetStore(settings.state_url, catalogue),
                      alert_service=alert_service, clock=clock,
                      dead_letters_path=Path(settings.data_dir) / "ingest-state.sqlite")


def speed_of(clock) -> float:
    return clock.speed if isinstance(clock, Clock) and clock.warped else 1.0
