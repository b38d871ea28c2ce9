"""``fenwei stack up``: every service its own OS process, against the servers in the settings.

Start sink first (ingest, derived AQI, forecast, alerts, edge, API), restart a service that
dies (exponential backoff, logged and counted), stop source first on Ctrl-C or SIGTERM (each
service drains on SIGTERM). With ``--scenario`` the firmware simulator runs as a process too,
feeding the edge agent's ports, and every process shares the scenario's warped clock; with
``--duration`` the stack stops by itself once the period is delivered, stored and evaluated.

Printed contract (one line each, as each is ready): ``API: http://...``, ``Dashboard:
http://.../dashboard/``, ``Keys: PATH``, ``HJ212: tcp://HOST:PORT``, ``SL651: tcp://HOST:PORT``,
``Process NAME pid N`` at every (re)start, and at the end of a ``--duration`` run ``stopped: N
readings published, M stored``.

Supervision is a small loop over :class:`subprocess.Popen` with the one backoff policy
(:mod:`core.backoff`): the process managers that could do it (supervisord, circus) run as daemons of their
own with their own configuration and event protocols, while the stack needs readiness
probes, an ordered drain and the end-of-replay handshake that only it knows.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import httpx
import typer
from core.backoff import backoff_delay
from core.localservers import free_port
from core.settings import SettingsError, load_settings, mask_url

import logging
logging.getLogger("httpx").setLevel(logging.WARNING)

app = typer.Typer(help="The whole system: every service its own process.",
                  no_args_is_help=True, add_completion=False)

ORDER = ("ingest", "aqi", "forecast", "alerts", "edge", "api")   # start order; stop reversed
UP_RESET_S = 60.0          # a service up this long starts its backoff afresh
ROLES = {"station": "1462A", "inspector": None, "city-team": "xian", "bureau": "Shaanxi",
         "admin": None}


def say(line: str) -> None:
    print(line, flush=True)


def _die_with_parent() -> None:
    """In the child: SIGTERM when the stack dies, however it dies (Linux prctl)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class Service:
    name: str
    argv: list[str]
    env: dict[str, str]
    health: str                      # URL of /ready; /health beside it ("" = from port_file)
    log: Path
    port_file: Path | None = None    # where the service says its health port
    repick: object = None            # () -> argv/env changes when a picked port was taken
    proc: subprocess.Popen | None = None
    starts: int = 0
    restarts: int = 0
    started_at: float = 0.0
    next_start: float = 0.0
    carried: dict = field(default_factory=dict)   # counters of earlier incarnations
    last: dict = field(default_factory=dict)
    backoff_max: float = 30.0

    def start(self) -> None:
        if self.port_file is not None:
            self.port_file.unlink(missing_ok=True)
            self.health = ""
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL, start_new_session=True,
                                         preexec_fn=_die_with_parent)
        self.starts += 1
        self.started_at = time.monotonic()
        self.was_ready = False
        say(f"Process {self.name} pid {self.proc.pid}")

    def _url(self) -> str:
        if not self.health and self.port_file is not None:
            try:
                self.health = f"http://127.0.0.1:{int(self.port_file.read_text())}/ready"
            except (OSError, ValueError):
                return ""
        return self.health

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def get(self, path: str) -> dict | None:
        if not self._url():
            return None
        try:
            r = httpx.get(self.health.rsplit("/", 1)[0] + path, timeout=2.0)
            return r.json() if r.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None

    def ready(self) -> bool:
        if not self.alive() or not self._url():
            return False
        try:
            ok = httpx.get(self.health, timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False
        self.was_ready = self.was_ready or ok
        return ok

    def stats(self) -> dict:
        """/health of the running incarnation, counters of dead ones added."""
        s = self.get("/health") if self.alive() else None
        if s is not None:
            self.last = s
        return {k: self.carried.get(k, 0) + self.last.get(k, 0)
                for k in set(self.carried) | set(self.last)
                if isinstance(self.last.get(k, self.carried.get(k)), (int, float))
                and not isinstance(self.last.get(k, self.carried.get(k)), bool)}

    def died(self) -> None:
        for k, v in self.last.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                self.carried[k] = self.carried.get(k, 0) + v
        self.last = {}
        up = time.monotonic() - self.started_at
        if up > UP_RESET_S:
            self.restarts_in_row = 0
        n = getattr(self, "restarts_in_row", 0) + 1
        self.restarts_in_row = n
        delay = backoff_delay(n - 1, 0.5, self.backoff_max)
        if not getattr(self, "was_ready", True) and self.repick is not None:
            self.repick(self)   # never ready: a port picked for it may have been taken
        self.next_start = time.monotonic() + delay
        self.restarts += 1
        say(f"{self.name} exited with {self.proc.returncode}; restart {self.restarts} "
            f"in {delay:.1f}s (log {self.log})")
        self.proc = None

    def signal_stop(self) -> None:
        """SIGTERM without waiting (``terminate`` then waits)."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            self._signalled_at = time.monotonic()

    def terminate(self, timeout: float = 60.0) -> None:
        if not self.alive():
            return
        signalled = getattr(self, "_signalled_at", None)
        if signalled is None or time.monotonic() - signalled > timeout:
            self.proc.send_signal(signal.SIGTERM)
        self._signalled_at = None
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


class Stack:
    def __init__(self, *, settings, data_dir: Path, api_port: int, hj212_port: int,
                 sl651_port: int, notify_webhook: str | None, scenario: str | None,
                 speed: float, duration: str | None, seed: int, stations: int | None,
                 config: str | None, edge_config: str | None = None,
                 restart_backoff_max: float = 30.0) -> None:
        self.settings, self.dir = settings, data_dir
        self.restart_backoff_max = restart_backoff_max   # [stack] restart_backoff_max
        self.scenario, self.speed, self.duration = scenario, speed, duration
        self.seed, self.stations = seed, stations
        self.api_port = api_port or free_port()
        self.hj212_port, self.sl651_port = hj212_port or free_port(), sl651_port or free_port()
        self.auto_ports = ({"api"} if not api_port else set()) | \
            ({"edge"} if not hj212_port and not sl651_port else set())
        self.announced: set[str] = set()
        self.webhook = notify_webhook
        self.stop_event = threading.Event()
        self.sim: subprocess.Popen | None = None
        self.logs = data_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "FENWEI_MQTT_URL": settings.mqtt_url,
               "FENWEI_STORE_URL": settings.store_url, "FENWEI_STATE_URL": settings.state_url,
               "FENWEI_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
        if config:
            env["FENWEI_CONFIG"] = config
        env.setdefault("FENWEI_FORECAST_REGISTRY_DIR", str(data_dir / "models"))
        self.sim_stations: list[str] | None = None
        if scenario:
            from firmware_sim import Simulation
            sim = Simulation(scenario, seed=seed, stations=stations, duration=duration)
            self.sim_start = sim.start
            self.sim_stations = [s.id for s in sim.stations]
            anchor = data_dir / "clock.anchor"
            for p in (anchor, anchor.with_suffix(".hold")):
                p.unlink(missing_ok=True)
            env.update({"FENWEI_CLOCK_MODE": "warped",
                        "FENWEI_CLOCK_START": repr(sim.start.timestamp()),
                        "FENWEI_CLOCK_SPEED": repr(speed), "FENWEI_CLOCK_ANCHOR": f"@{anchor}",
                        # a replay is a drill (the API's notifications too)
                        "FENWEI_ALERTS_EXERCISE": "true",
                        "FENWEI_ALERTS_BROADCAST_EXERCISES": "true",
                        # one acknowledgement secret for the alert service and the API
                        "FENWEI_ALERTS_ACK_SECRET": os.environ.get("FENWEI_ALERTS_ACK_SECRET")
                        or secrets.token_urlsafe(32)})
            self.anchor = anchor
        self.env = env
        self.edge_config = edge_config
        self.order = [n for n in ORDER if n != "edge" or scenario or edge_config]
        if "edge" not in self.order:
            say("edge: not started (no [edge] config: the site agents run at the stations; "
                "name the agent file in [edge] config to run one here)")
        self.services = {name: self._service(name, notify_webhook) for name in self.order}

    def _service(self, name: str, webhook: str | None) -> Service:
        fenwei = [sys.executable, "-m", "core.cli"]
        port_file = self.dir / "run" / f"{name}.port"
        port_file.parent.mkdir(parents=True, exist_ok=True)
        env = {**self.env, "FENWEI_HEALTH_PORT": "0", "FENWEI_HEALTH_PORT_FILE": str(port_file)}
        ready = ""
        argv = {"ingest": [*fenwei, "ingest", "run"],
                "aqi": [*fenwei, "aqi", "run"],
                "forecast": [*fenwei, "forecast", "run"],
                "alerts": [*fenwei, "alerts", "run"],
                "edge": [*fenwei, "edge", "run", "--hj212-port", str(self.hj212_port),
                         "--sl651-port", str(self.sl651_port), "--host", "127.0.0.1",
                         "--data-dir", str(self.dir / "edge"),
                         *(["--config", self.edge_config] if self.edge_config else [])],
                "api": [*fenwei, "api", "run", "--port", str(self.api_port)]}[name]
        if name == "alerts" and webhook:
            argv += ["--notify-webhook", webhook]
        if name == "forecast" and self.scenario:
            argv += ["--scenario", self.scenario, "--seed", str(self.seed)]
            argv += ["--stations", str(self.stations)] if self.stations else []
            argv += ["--duration", self.duration] if self.duration else []
        if name == "edge" and self.sim_stations is not None:
            argv += ["--stations", ",".join(self.sim_stations), "--no-fsync"]
        if name == "api":
            ready, port_file = f"http://127.0.0.1:{self.api_port}/ready", None
        svc = Service(name, argv, env, ready, self.logs / f"{name}.log", port_file=port_file,
                      backoff_max=self.restart_backoff_max)
        if name in self.auto_ports:
            svc.repick = self._repick
        return svc

    def _repick(self, svc: Service) -> None:
        """A service given a port picked here exited before it was ever ready: the port may
        have been taken meanwhile; pick again (and say the new address once it is ready)."""
        if svc.name == "api":
            self.api_port = free_port()
            svc.health = f"http://127.0.0.1:{self.api_port}/ready"
        else:
            self.hj212_port, self.sl651_port = free_port(), free_port()
        fresh = self._service(svc.name, self.webhook)
        svc.argv = fresh.argv
        self.announced.discard(svc.name)

    # ------------------------------------------------------------------ run
    def keys(self) -> Path:
        from api.auth import KeyStore
        ks = KeyStore(self.settings.state_url)
        out = {role: ks.create(f"stack-{role}", role, scope)[1] for role, scope in ROLES.items()}
        path = self.dir / "keys.json"
        path.write_text(json.dumps(out, indent=1) + "\n")
        path.chmod(0o600)
        return path

    def phase(self, what: str) -> None:
        """One line in logs/stack.log: real seconds since ``up`` began (where a replay's
        time goes: start, simulated period, settling, final passes, stop)."""
        t = time.monotonic() - getattr(self, "_t0", time.monotonic())
        try:
            with open(self.logs / "stack.log", "a") as f:
                f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {t:8.2f} s {what}\n")
        except OSError:
            pass

    def up(self) -> int:
        self._t0 = time.monotonic()
        self.phase("starting services")
        for name in self.order:
            self.services[name].start()
        announced = self.announced
        while not self.stop_event.is_set():
            self.supervise()
            for name in self.order:
                if name not in announced and self.services[name].ready():
                    announced.add(name)
                    self._announce(name)
            if len(announced) == len(self.order):
                break
            self.stop_event.wait(0.3)
        if self.stop_event.is_set():
            return self.down()
        self.phase("every service ready")
        if self.scenario:
            self.start_sim()
        while not self.stop_event.wait(0.5):
            self.supervise()
            for name in self.order:   # a service restarted on a new port: say where
                if name not in announced and self.services[name].ready():
                    announced.add(name)
                    self._announce(name)
            if self.sim is not None and self.sim.poll() is not None and self.duration:
                if self.sim.returncode != 0:
                    say(f"simulator exited with {self.sim.returncode} (log "
                        f"{self.logs / 'sim.log'})")
                    self.down()
                    return 1
                if not getattr(self, "_sim_ended", False):
                    self._sim_ended = True
                    self.phase("simulator exited")
                if self.settled():
                    self.phase("settled: everything published is stored")
                    self.finish()
                    return self.down(report=True)
        return self.down()

    def _announce(self, name: str) -> None:
        if name == "api":
            say(f"API: http://127.0.0.1:{self.api_port}")
            say(f"Dashboard: http://127.0.0.1:{self.api_port}/dashboard/")
            say(f"Keys: {self.keys()}")
        elif name == "edge":
            say(f"HJ212: tcp://127.0.0.1:{self.hj212_port}")
            say(f"SL651: tcp://127.0.0.1:{self.sl651_port}")

    def supervise(self) -> None:
        now = time.monotonic()
        for svc in self.services.values():
            if svc.proc is not None and svc.proc.poll() is not None:
                svc.died()
            if svc.proc is None and now >= svc.next_start and not self.stop_event.is_set():
                svc.start()

    def start_sim(self) -> None:
        argv = [sys.executable, "-m", "core.cli", "sim", "run", "--scenario", self.scenario,
                "--air-target", f"127.0.0.1:{self.hj212_port}",
                "--hydro-target", f"127.0.0.1:{self.sl651_port}", "--speed", str(self.speed),
                "--seed", str(self.seed), "--realtime-interval", "0", "--minute-interval", "0",
                "--ack-floor", "5"]
        argv += ["--duration", self.duration] if self.duration else []
        argv += ["--stations", str(self.stations)] if self.stations else []
        with open(self.logs / "sim.log", "ab") as log:
            self.sim = subprocess.Popen(argv, env=self.env, stdout=log, stderr=log,
                                        stdin=subprocess.DEVNULL, start_new_session=True,
                                        preexec_fn=_die_with_parent)
        say(f"Process sim pid {self.sim.pid}")

    # ------------------------------------------------------------------ the end of a replay
    def counts(self) -> tuple[int, int]:
        return (int(self.services["edge"].stats().get("published", 0)),
                int(self.services["ingest"].stats().get("stored", 0)))

    def settled(self) -> bool:
        """Everything the devices delivered is published, and everything published stored."""
        edge = self.services["edge"].get("/health") if self.services["edge"].alive() else None
        ing = self.services["ingest"].get("/health") if self.services["ingest"].alive() \
            else None
        if edge is None or ing is None or edge.get("queue_depth") or \
                ing.get("buffered_readings"):
            self._stable = None
            return False
        published, stored = self.counts()
        if stored >= published:
            return True
        # a kill -9 can take an incarnation's last counts with it: quiet for 10 s is settled
        key = (published, stored)
        if getattr(self, "_stable", None) is None or self._stable[0] != key:
            self._stable = (key, time.monotonic())
        return time.monotonic() - self._stable[1] > 10.0

    def finish(self) -> None:
        """Hold the clock at the period's end, then one final pass: AQI, forecast, rules
        and delivery, in that order, each acknowledged through its /health."""
        from core.clock import clock_from
        held = clock_from(self.env_clock()).now()
        self.anchor.with_suffix(".hold").write_text(repr(held))
        time.sleep(1.0)   # every process re-reads the hold within half a second
        for name in ("aqi", "forecast", "alerts"):
            svc = self.services[name]
            before = (svc.get("/health") or {}).get("finals", 0)
            if svc.alive():
                svc.proc.send_signal(signal.SIGUSR1)
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                h = svc.get("/health") if svc.alive() else None
                if h is not None and h.get("finals", 0) > before:
                    break
                self.supervise()
                time.sleep(0.3)
            self.phase(f"final pass of {name} done")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            h = self.services["alerts"].get("/health") or {}
            if h.get("outbox_pending", 1) == 0:
                break
            time.sleep(0.5)
        self.phase("outbox delivered")

    def env_clock(self) -> dict:
        return {k[13:].lower(): v for k, v in self.env.items()
                if k.startswith("FENWEI_CLOCK_")}

    def down(self, report: bool = False) -> int:
        self.stop_event.set()
        if self.sim is not None and self.sim.poll() is None:
            self.sim.send_signal(signal.SIGTERM)
            try:
                self.sim.wait(30)
            except subprocess.TimeoutExpired:
                self.sim.kill()
        published, stored = self.counts() if report else (0, 0)
        self.phase("stopping services")
        # source first: every service but ingest drains at once (none feeds another: edge
        # publishes to ingest, the others read the store or serve), then ingest stores what
        # the edge sent while it drained. One after another, six interpreters' drains and
        # exits added up to seconds at the end of every replay.
        first = [n for n in reversed(self.order) if n != "ingest"]
        for name in first:
            self.services[name].signal_stop()
        for name in first:
            self.services[name].terminate()
        if "ingest" in self.services:
            self.services["ingest"].terminate()
        self.phase("services stopped")
        if report:
            say(f"stopped: {published} readings published, {stored} stored")
        return 0


@app.command("up")
def up(config: Optional[str] = typer.Option(None, "--config", help="fenwei.toml"),
       mqtt_url: Optional[str] = typer.Option(None, help="Broker [FENWEI_MQTT_URL]."),
       store_url: Optional[str] = typer.Option(None, help="Store [FENWEI_STORE_URL]."),
       state_url: Optional[str] = typer.Option(None, help="State DB [FENWEI_STATE_URL]."),
       api_port: int = typer.Option(8000, help="HTTP API port (0 picks a free one)."),
       hj212_port: int = typer.Option(9212, help="Edge HJ 212 port (0 picks a free one)."),
       sl651_port: int = typer.Option(9651, help="Edge SL 651 port (0 picks a free one)."),
       data_dir: Optional[Path] = typer.Option(None, help="Files of every service (default: "
                                               "the settings' data_dir)."),
       notify_webhook: Optional[str] = typer.Option(None, help="Exercise recipient receiving "
                                                    "every notification."),
       scenario: Optional[str] = typer.Option(None, help="Run the simulator on this scenario "
                                              "(every service on its warped clock)."),
       speed: float = typer.Option(3600.0, help="Simulated seconds per real second."),
       duration: Optional[str] = typer.Option(None, help="Simulated period; stop by itself "
                                              "once it is delivered, stored and evaluated."),
       seed: int = typer.Option(0, help="Scenario seed."),
       stations: Optional[int] = typer.Option(None, min=1, help="Scenario stations (default "
                                              "42: two air stations per city, every gauge)."),
       ) -> None:
    """Start every service as its own process; Ctrl-C or SIGTERM stops them in order."""
    edge_config = None
    try:
        from core.config import load_config
        cfg = load_config(config)        # the file if any, and FENWEI_STACK_* variables
        sec = cfg.section("stack")
        restart_backoff_max = sec.restart_backoff_max_s
        if config:   # strict: an unknown section or key is an error naming it
            cfg.validate()
            hj212_port = hj212_port if hj212_port != 9212 else sec.hj212_port
            sl651_port = sl651_port if sl651_port != 9651 else sec.sl651_port
            notify_webhook = notify_webhook or sec.notify_webhook
            edge_sec = cfg.section("edge")
            edge_config = str(edge_sec.config) if getattr(edge_sec, "config", None) else None
        settings = load_settings(config, mqtt_url=mqtt_url, store_url=store_url,
                                 state_url=state_url)
    except SettingsError as exc:
        typer.echo(f"fenwei stack: {exc}", err=True)
        raise typer.Exit(2) from None
    if settings.store_url.startswith("duckdb"):
        typer.echo("fenwei stack: a DuckDB file is one process's store; name an InfluxDB "
                   "(--store-url influxdb://...) or run `fenwei demo`", err=True)
        raise typer.Exit(2)
    if speed <= 0:
        typer.echo("fenwei stack: --speed must be positive", err=True)
        raise typer.Exit(2)
    if scenario is not None:
        from firmware_sim import scenario_names
        if scenario not in scenario_names() and not Path(scenario).is_file():
            typer.echo(f"fenwei stack: --scenario: unknown scenario {scenario!r}; choose one "
                       f"of {', '.join(scenario_names())} or a TOML file", err=True)
            raise typer.Exit(2)
        stations = stations or 42
    tmp = None
    if data_dir is None:
        data_dir = Path(settings.data_dir) if (config or "FENWEI_DATA_DIR" in os.environ) \
            else Path(tmp := tempfile.mkdtemp(prefix="fenwei-stack-"))
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    say(f"MQTT: {mask_url(settings.mqtt_url)}")
    stack = Stack(settings=settings, data_dir=data_dir, api_port=api_port,
                  hj212_port=hj212_port, sl651_port=sl651_port, notify_webhook=notify_webhook,
                  scenario=scenario, speed=speed, duration=duration, seed=seed,
                  stations=stations, config=config, edge_config=edge_config,
                  restart_backoff_max=restart_backoff_max)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stack.stop_event.set())
    try:
        code = stack.up()
    finally:
        for svc in stack.services.values():
            if svc.alive():
                svc.proc.kill()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    raise typer.Exit(code)
