"""``fenwei <service> run`` for every service, and ``fenwei stack``.

Each ``run`` command builds its service with the builders in :mod:`stack.services` (the
same ones ``fenwei demo`` calls), on the clock from the settings (FENWEI_CLOCK_*: the wall
clock, or a warped one for drills and replays), serves ``/health``, ``/ready`` and
``/metrics`` on ``FENWEI_HEALTH_PORT`` (default: a free loopback port, printed as
``Health: http://...``), drains on SIGTERM or SIGINT and, on SIGUSR1, makes one final pass
(the stack sends it once a replayed period is delivered and stored).

The service packages keep their other sub-commands; the entry points in pyproject.toml
point at the apps here, which are theirs with ``run`` added.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import List, Optional

import typer

from core.clock import ClockError, clock_from
from core.health import HealthServer
from core.mqtt import TlsFiles
from core.settings import SettingsError, load_settings

from .services import (Alerting, AqiJob, build_edge, build_ingest, publish_forecast_issued,
                       speed_of, station_devices)

log = logging.getLogger(__name__)


def _with_run(app: typer.Typer, fn, name: str = "run") -> typer.Typer:
    app.registered_commands = [c for c in app.registered_commands
                               if (c.name or c.callback.__name__) != name]
    app.command(name)(fn)
    return app


def _fail(service: str, exc: Exception) -> None:
    typer.echo(f"fenwei {service}: {exc}", err=True)
    raise typer.Exit(2)


def _logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level.upper(), stream=sys.stderr, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)


ConfigOpt = typer.Option(None, "--config", help="fenwei.toml [FENWEI_CONFIG].")


def _use_config(config) -> None:
    """Make ``--config`` the settings file every settings class of this process reads."""
    if config:
        os.environ["FENWEI_CONFIG"] = str(config)


def _section(service: str, name: str):
    """The ``[name]`` section of the settings file (merged with ``[fenwei]``), validated
    strictly (an unknown key is an error naming it); None without a settings file."""
    if not os.environ.get("FENWEI_CONFIG"):
        return None
    from core.config import load_config
    try:
        return load_config().section(name)
    except SettingsError as exc:
        _fail(service, exc)


def _clock(service: str):
    try:
        return clock_from()
    except ClockError as exc:
        _fail(service, exc)


class Process:
    """Signals, the health endpoint and the wait of a service process."""

    def __init__(self, name: str, *, stats=dict, ready=lambda: True, registries=(),
                 final=None) -> None:
        self.name, self.final = name, final
        self.finals = 0
        self.stop = threading.Event()
        self._final_req = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop.set())
        signal.signal(signal.SIGUSR1, lambda *_: self._final_req.set())
        port = int(os.environ.get("FENWEI_HEALTH_PORT", "0") or 0)
        self.health = HealthServer(name, stats=lambda: {**stats(), "finals": self.finals},
                                   ready=ready, registries=registries, port=port).start()
        print(f"Health: http://127.0.0.1:{self.health.port}", flush=True)
        port_file = os.environ.get("FENWEI_HEALTH_PORT_FILE")
        if port_file:      # the stack reads where this incarnation listens
            tmp = Path(port_file).with_suffix(".tmp")
            tmp.write_text(str(self.health.port))
            os.replace(tmp, port_file)

    def wait(self, every_s: float = 0.2, tick=None) -> None:
        while not self.stop.wait(every_s):
            if self._final_req.is_set():
                self._final_req.clear()
                if self.final is not None:
                    try:
                        self.final()
                    except Exception:  # noqa: BLE001 - reported, the service goes on
                        log.exception("%s: final pass failed", self.name)
                self.finals += 1
            if tick is not None:
                tick()

    def close(self) -> None:
        self.health.stop()


# ------------------------------------------------------------------ ingest
def ingest_run(
    config: Optional[Path] = typer.Option(None, help="TOML settings file ($FENWEI_CONFIG)."),
    mqtt_url: Optional[str] = typer.Option(None, help="Broker URL [FENWEI_MQTT_URL]."),
    store_url: Optional[str] = typer.Option(None, help="Store URL [FENWEI_STORE_URL]."),
    state_path: Optional[Path] = typer.Option(None, help="SQLite file for dead letters and "
                                              "completeness [DATA_DIR/ingest-state.sqlite]."),
    client_id: Optional[str] = typer.Option(None, help="Fixed MQTT client id [fenwei-ingest]."),
    share_group: Optional[str] = typer.Option(None, help="Join $share/GROUP/... to split "
                                              "the load between processes."),
    mqtt_protocol: Optional[str] = typer.Option(None, help="3.1.1 (default) or 5 (receive "
                                                "maximum, session expiry)."),
    receive_maximum: Optional[int] = typer.Option(None, help="Unacknowledged messages the "
                                                  "broker may send [10000]."),
    batch_points: Optional[int] = typer.Option(None, help="Readings per write [5000]."),
    batch_ms: Optional[int] = typer.Option(None, help="Longest wait before a write [200]."),
    max_buffer_points: Optional[int] = typer.Option(None, help="Readings buffered before "
                                                    "reading from the broker pauses [20000]."),
    flood_rate: Optional[float] = typer.Option(None, help="Messages/s per station, 0 = off."),
    flood_burst: Optional[float] = typer.Option(None, help="Token bucket depth per station."),
    retention: Optional[str] = typer.Option(None, help="Raw retention on InfluxDB: INF or "
                                            "e.g. 365d."),
    metrics_port: Optional[int] = typer.Option(None, help="Prometheus port, 0 = off."),
    drain_timeout_s: Optional[float] = typer.Option(None, help="On SIGTERM, wait this long "
                                                    "for a dead store [30]."),
    gap_fill: Optional[bool] = typer.Option(None, "--gap-fill/--no-gap-fill", help="Ask "
                                            "stations' loggers for the hours missing from "
                                            "their series (fill topic); on by default."),
    gap_grace_s: Optional[float] = typer.Option(None, help="Wait this long for a logger's "
                                                "own back-fill before asking [3600]."),
    log_level: str = typer.Option("INFO", help="DEBUG, INFO, WARNING or ERROR."),
) -> None:
    """Subscribe, decode, write in batches, acknowledge after the write."""
    from core.catalogue import load_catalogue
    from ingest import IngestConfig
    _logging(log_level)
    clock = _clock("ingest")
    try:
        cfg = IngestConfig.from_env(
            config, mqtt_url=mqtt_url, store_url=store_url, state_path=state_path,
            client_id=client_id, share_group=share_group, mqtt_protocol=mqtt_protocol,
            receive_maximum=receive_maximum, batch_points=batch_points, batch_ms=batch_ms,
            max_buffer_points=max_buffer_points, flood_rate=flood_rate,
            flood_burst=flood_burst, retention=retention, metrics_port=metrics_port,
            drain_timeout_s=drain_timeout_s, gap_fill=gap_fill, gap_grace_s=gap_grace_s)
    except SettingsError as exc:
        _fail("ingest", exc)
    ingestor = build_ingest(cfg, catalogue=load_catalogue(), clock=clock)
    proc = Process("ingest", stats=ingestor.stats, ready=ingestor.subscribed.is_set,
                   registries=[ingestor.metrics.registry])
    ingestor.start()
    typer.echo(f"ingest running: {cfg.subscription} -> store (pid {os.getpid()})", err=True)
    n = [0]

    def tick() -> None:
        n[0] += 1
        if n[0] % 50 == 0:
            logging.getLogger("ingest").info("%s", ingestor.stats_line())
    try:
        proc.wait(tick=tick)
    finally:
        ingestor.stop()
        proc.close()


# ------------------------------------------------------------------ edge
def edge_run(config: Optional[Path] = typer.Option(
                 None, "--config", "-c", exists=True, dir_okay=False,
                 help="TOML file with an [edge] table (see edge/sample-config.toml); default: "
                      "the catalogue's devices with the defaults."),
             hj212_port: int = typer.Option(None, help="Override [edge.hj212] port."),
             sl651_port: int = typer.Option(None, help="Override [edge.sl651] port."),
             host: Optional[str] = typer.Option(None, help="Override both listeners' host."),
             stations: Optional[str] = typer.Option(
                 None, help="Only these stations' devices (comma-separated ids)."),
             data_dir: Optional[Path] = typer.Option(None, help="Override [edge] data_dir."),
             fsync: bool = typer.Option(True, help="Sync the queue to disk on each commit "
                                                   "(off only for tests on a shared disk).")
             ) -> None:
    """Run the agent until SIGTERM/SIGINT; publishes to FENWEI_MQTT_URL. Prints
    ``HJ212: tcp://HOST:PORT`` and ``SL651: tcp://HOST:PORT`` once listening."""
    from core.catalogue import load_catalogue
    from edge.agent import AgentConfig, ConfigError, EdgeError, load_config
    _logging()
    clock = _clock("edge")
    try:
        settings = load_settings(config)
        cfg = load_config(config) if config else AgentConfig()
    except (SettingsError, ConfigError) as exc:
        _fail("edge", exc)
    cat = load_catalogue()
    upd: dict = {}
    for name, port in (("hj212", hj212_port), ("sl651", sl651_port)):
        lst = getattr(cfg, name)
        change = {k: v for k, v in (("port", port), ("host", host)) if v is not None}
        if change:
            upd[name] = lst.model_copy(update=change)
    if not config and not clock.warped:
        _fail("edge", "give --config: the site's agent file (its devices, or catalogue_devices "
                      "with a device_secret; see edge/sample-config.toml). Without one only a "
                      "drill on a warped clock runs, with the simulator's device passwords")
    if not config or stations:
        secret = cfg.device_secret.get_secret_value() if cfg.device_secret else None
        upd["devices"] = tuple(station_devices(cat, stations.split(",") if stations else None,
                                               secret=secret))
    if data_dir is not None:
        upd["data_dir"] = data_dir
    cfg = cfg.model_copy(update=upd)
    logging.getLogger().setLevel(settings.log_level)
    try:
        agent = build_edge(cfg, catalogue=cat, clock=clock, mqtt_url=settings.mqtt_url,
                           speed=speed_of(clock), fsync=fsync, settings=settings)
        proc = Process("edge", stats=lambda: _edge_stats(agent), ready=lambda: True)
        agent.start()
    except (ConfigError, EdgeError) as exc:
        _fail("edge", exc)
    h = cfg.hj212.host
    print(f"HJ212: tcp://{h}:{agent.ports['hj212']}", flush=True)
    print(f"SL651: tcp://{cfg.sl651.host}:{agent.ports['sl651']}", flush=True)
    typer.echo(f"edge agent {cfg.agent_id}: listening on {agent.ports}", err=True)
    try:
        proc.wait()
    finally:
        agent.stop()
        proc.close()


def _edge_stats(agent) -> dict:
    s = agent.stats
    return {"published": s["agent"].get("published", 0), "queue_depth": s["queue_depth"],
            "agent": s["agent"]}


# ------------------------------------------------------------------ alerts
RulesOpt = typer.Option(None, "--rules", help="Rules file (TOML); repeat to combine several. "
                                              "Default: every packaged rule family (air "
                                              "warnings, regional, real-time, river eco-flow, "
                                              "liveness, data quality).")


def alerts_run(rules: Optional[List[Path]] = RulesOpt,
               recipients: Optional[Path] = typer.Option(None, "--recipients",
                                                         help="Recipients file (JSON)."),
               state_url: Optional[str] = typer.Option(None, "--state-url",
                                                       help="sqlite:///path or "
                                                            "postgresql://..."),
               notify_webhook: Optional[str] = typer.Option(
                   None, help="Catch-all exercise recipient receiving a copy of every "
                              "notification."),
               config: Optional[Path] = ConfigOpt) -> None:
    """Run the alert service until SIGINT/SIGTERM."""
    _use_config(config)
    from core.catalogue import load_catalogue
    from core.store import StoreError, open_store
    from alerts.errors import ConfigError
    _logging()
    clock = _clock("alerts")
    if rules:
        os.environ["FENWEI_ALERTS_RULES_FILE"] = str(rules[0]) if len(rules) == 1 else ""
    if recipients:
        os.environ["FENWEI_ALERTS_RECIPIENTS_FILE"] = str(recipients)
    try:
        settings = load_settings()
        cat = load_catalogue()
        # the store only where one is named: rules reading series need it; a rules file of
        # streaming rules alone runs without (and two such processes share no DuckDB file)
        named = "FENWEI_STORE_URL" in os.environ or "FENWEI_CONFIG" in os.environ
        store = open_store(settings.store_url, cat) if named else None
        alerting = Alerting(catalogue=cat, store=store, clock=clock, state_url=state_url,
                            settings=_section("alerts", "alerts"),
                            speed=speed_of(clock), notify_webhook=notify_webhook,
                            forecast_driven=True, client_id=os.environ.get(
                                "FENWEI_ALERTS_EVENTS_CLIENT_ID", "fenwei-alerts-events"),
                            rules=_merged(rules) if rules and len(rules) > 1 else None)
    except (SettingsError, StoreError, ConfigError) as exc:
        _fail("alerts", exc)
    from prometheus_client import REGISTRY
    proc = Process("alerts", stats=lambda: _alert_stats(alerting), ready=alerting.ready,
                   final=lambda: _alerts_final(alerting),
                   registries=[REGISTRY, alerting.svc.metrics.registry])
    alerting.start(listen_for_forecasts=True)
    typer.echo("alerts: running", err=True)
    try:
        proc.wait()
    finally:
        if speed_of(clock) > 1.0:
            # a replay's end is final: what waits for its group (a pass that ran after the
            # stack's last check, e.g. on a late forecast) is delivered before the process
            # ends, not left pending (a live service's next start sends it instead)
            if not alerting.flush(30.0):
                log.warning("alerts: notifications still to deliver at the end of the replay")
        alerting.stop()
        if store is not None:
            store.close()
        proc.close()
        typer.echo("alerts: stopped", err=True)


def _merged(paths):
    from alerts.cli import merged_rules
    return merged_rules(paths)


def _alert_stats(alerting) -> dict:
    """/health of the alert service: its counters, open alerts and the notifications still
    to deliver (pending or being sent; None while the state database does not answer)."""
    import sqlalchemy as sa
    svc = alerting.svc
    out = {**svc.stats(), "open_alerts": None, "outbox_pending": None}
    try:
        with svc.engine.connect() as conn:
            out["open_alerts"] = len(svc.alerts(open_only=True))
            out["outbox_pending"] = conn.execute(sa.text(
                "SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'sending')")).scalar()
    except sa.exc.SQLAlchemyError:
        pass
    return out


def _alerts_final(alerting) -> None:
    svc = alerting.svc
    for rule in svc.rules.periodic:
        svc.run_periodic(rule.id)
    svc.tick()
    alerting.release_groups()   # the clock is held: a group wait would never end
    svc.dispatch_once()


# ------------------------------------------------------------------ aqi
def aqi_run(every: str = typer.Option("5m", help="Recompute every (clock time)."),
            lookback: str = typer.Option("2d", help="Recompute the last (late data are "
                                                    "taken in)."),
            store_url: Optional[str] = typer.Option(None, help="[FENWEI_STORE_URL]"),
            config: Optional[Path] = ConfigOpt) -> None:
    """Keep hourly and daily AQI current as data arrive (until SIGTERM)."""
    _use_config(config)
    from core.catalogue import load_catalogue
    from core.store import StoreError, open_store
    _logging()
    clock = _clock("aqi")
    sec = _section("aqi", "aqi")
    if sec is not None:       # the command line wins over the file where it was given
        every = every if every != "5m" else str(sec.every)
        lookback = lookback if lookback != "2d" else str(sec.lookback)
    try:
        cat = load_catalogue()
        store = open_store(store_url or load_settings().store_url, cat)
        job = AqiJob(store, cat, clock, every=every, lookback=lookback, speed=speed_of(clock))
    except (SettingsError, StoreError, ValueError) as exc:
        _fail("aqi", exc)
    proc = Process("aqi", stats=job.stats, final=job.run_once)
    job.start()
    try:
        proc.wait()
    finally:
        job.stop()
        store.close()
        proc.close()


# ------------------------------------------------------------------ forecast
def forecast_run(store: Optional[str] = typer.Option(None, "--store", help="Store URL (default "
                                                     "FENWEI_STORE_URL)."),
                 registry: Optional[Path] = typer.Option(None, "--registry", help="Model "
                                                         "registry directory (default "
                                                         "FENWEI_FORECAST_REGISTRY_DIR)."),
                 scenario: Optional[str] = typer.Option(None, help="Simulator attached: train "
                                                        "on the scenario's simulated history "
                                                        "and use its weather feed."),
                 seed: int = typer.Option(0, help="The scenario's seed."),
                 stations: Optional[int] = typer.Option(None, help="The scenario's stations."),
                 duration: Optional[str] = typer.Option(None, help="The scenario's period."),
                 config: Optional[Path] = ConfigOpt) -> None:
    """Issue at start when due, then on schedule; verify; retrain (until SIGTERM)."""
    _use_config(config)
    from core.catalogue import load_catalogue
    from core.store import StoreError, open_store
    from forecasting import ForecastSettings
    from .forecast import ForecastRunner, ScenarioForecasts
    _logging()
    clock = _clock("forecast")
    try:
        settings = load_settings()
        cat = load_catalogue()
        st = open_store(store or settings.store_url, cat)
        fs = _section("forecast", "forecast") or ForecastSettings()
        reg = registry or fs.registry_dir
        if scenario:
            from firmware_sim import Simulation
            sim = Simulation(scenario, seed=seed, stations=stations, duration=duration)
            runner = ScenarioForecasts(st, cat, Path(reg), clock, start=sim.start,
                                       truth=sim.truth, seed=sim.seed, speed=speed_of(clock),
                                       models=Path(reg))
        else:
            runner = ForecastRunner(st, cat, clock, registry=Path(reg), settings=fs)
    except (SettingsError, StoreError) as exc:
        _fail("forecast", exc)
    proc = Process("forecast", stats=runner.stats, ready=runner.trained.is_set,
                   final=lambda: runner.issue(clock.datetime()))
    try:
        runner.after_issue = publish_forecast_issued(settings.mqtt_url,
                                                     tls=TlsFiles.from_settings(settings))
    except OSError as exc:
        log.warning("forecast: the alert service will not be told of issues: %s", exc)
    runner.start()
    try:
        proc.wait()
    finally:
        runner.stop()
        st.close()
        proc.close()


# ------------------------------------------------------------------ api
def api_run(host: str = "127.0.0.1", port: int = 8000,
            config: Optional[str] = typer.Option(None, "--config", help="TOML settings file"),
            ) -> None:
    """Serve the API (store from FENWEI_STORE_URL, keys and alert state in
    FENWEI_STATE_URL). Prints ``API: http://HOST:PORT`` once it listens."""
    import uvicorn
    from core.catalogue import load_catalogue
    from core.store import StoreError, open_store
    from .services import build_api
    _logging("WARNING")
    clock = _clock("api")
    try:
        settings = load_settings(config)
        cat = load_catalogue()
        store = open_store(settings.store_url, cat, max_rows=settings.store_max_rows)
        app = build_api(store, cat, settings=settings, clock=clock)
    except (SettingsError, StoreError) as exc:
        _fail("api", exc)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    orig = server.startup

    async def startup(sockets=None):
        await orig(sockets=sockets)
        if server.started:
            bound = port
            for s in server.servers:
                for sock in s.sockets:
                    bound = sock.getsockname()[1]
            print(f"API: http://{host}:{bound}", flush=True)
    server.startup = startup
    server.run()


# ------------------------------------------------------------------ the apps
_RUNS = {"ingest_app": ("ingest.cli", ingest_run), "edge_app": ("edge.cli", edge_run),
         "alerts_app": ("alerts.cli", alerts_run), "aqi_app": ("core.aqi.cli", aqi_run),
         "forecast_app": ("forecasting.cli", forecast_run), "api_app": ("api.cli", api_run)}


def __getattr__(name: str):
    """``ingest_app`` … ``api_app`` (the entry points): the service's own Typer app with
    ``run`` added, imported only when asked for (a service process loads its own package,
    not every other's)."""
    if name not in _RUNS:
        raise AttributeError(f"module 'stack.cli' has no attribute {name!r}")
    import importlib
    module, run = _RUNS[name]
    app = _with_run(importlib.import_module(module).app, run)
    globals()[name] = app
    return app
