"""End to end, the production system: ``fenwei stack up`` starts every service as its own OS
process (ingest, derived AQI, forecast, alerts, edge agent, API) plus the firmware simulator,
against real Mosquitto, InfluxDB 1.6.7 and PostgreSQL, all on the scenario's warped clock
(3600 simulated seconds per real second). The test reads the stack's printed lines, a webhook
receiver standing in for the teams' endpoints, and the standalone API.

- winter episode, first four days (the whole build-up), undisturbed: yellow first, then
  orange and red city warnings, and the Fen-Wei regional warning to every covered team and
  bureau; the API (alerts, CAP feed, eco-flow) and the dashboard show them live;
- the same run with ingest, alerts, forecast and API each killed with SIGKILL once mid-run:
  the stack restarts them, every published reading is stored, no notification idempotency
  key arrives twice, and every city reaches the same highest warning level;
- the clean week (three days): no air warning;
- spring low flow (eight days): Huaxian's yellow, then red eco-flow alert, and the Monday
  list through the standalone API.

42 stations (two air stations per city and every river gauge): the city warnings are graded
on city means, so two stations per city exercise the same path. Forecast models are trained
once per scenario and session (``FENWEI_FORECAST_REGISTRY_DIR``).
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from core.localservers import Mosquitto, ServerError

from .conftest import IN_CI, fresh_pg_database

SPEED = 3600.0
IN_FLIGHT_S = 1.0   # a send's answer and its commit take milliseconds
LEVELS = {"yellow": 1, "orange": 2, "red": 3}
pytestmark = [pytest.mark.services, pytest.mark.e2e]


class Receiver:
    """A tiny real HTTP server standing in for the teams' webhook endpoints.

    A group message (``fenwei.alert.group.v1``) is unfolded into its ``alerts`` entries, each
    the single-alert body with its own idempotency key: ``bodies``, ``keys`` and ``arrived``
    hold one item per alert notification whichever way it came (one POST alone or inside a
    group), so every check reads single and group messages alike; ``messages`` and
    ``message_keys`` (the Idempotency-Key header: a group's own ``group-...`` key) hold one
    item per POST."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.keys: list[str] = []
        self.arrived: list[float] = []   # time.monotonic() of each POST, beside keys
        self.messages: list[dict] = []
        self.message_keys: list[str] = []
        self.lock = threading.Lock()
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.take(body, self.headers.get("Idempotency-Key"), time.monotonic())
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def take(self, body: dict, header_key: str | None, at: float) -> None:
        """One POST: kept as a message, and unfolded into its alert notifications."""
        group = body.get("schema") == "fenwei.alert.group.v1"
        members = body["alerts"] if group else [body]
        with self.lock:
            self.messages.append(body)
            self.message_keys.append(header_key or body.get("idempotency_key") or "")
            for b in members:
                self.bodies.append(b)
                self.arrived.append(at)
                # a single message's key is its header's; a group member's is its own
                self.keys.append((b.get("idempotency_key") or "") if group else
                                 (header_key or b.get("idempotency_key") or ""))

    def close(self) -> None:
        self.server.shutdown()

    def repeated_keys(self, kill_at: float | None = None) -> dict[str, list[float]]:
        """Alert notifications' idempotency keys that arrived more than once (alone or in a
        group message: the same alert in two group messages is a repeat too), with their
        arrival times, except a key sent in the instant the alert service was SIGKILLed at
        ``kill_at``: one copy within IN_FLIGHT_S before the kill, one after it. The
        dispatcher records each delivery straight after the receiver's 200, so only a send
        caught between that answer and its commit can be sent again by the restarted
        service (at-least-once: a delivery cannot be made atomic with a database commit;
        receivers drop the repeat by its key)."""
        seen: dict[str, list[float]] = {}
        for k, t in zip(self.keys, self.arrived):
            if k:
                seen.setdefault(k, []).append(t)
        out = {}
        for k, ts in seen.items():
            if len(ts) < 2:
                continue
            in_flight = (kill_at is not None and len(ts) == 2
                         and kill_at - IN_FLIGHT_S <= ts[0] <= kill_at < ts[1])
            if not in_flight:
                out[k] = ts
        return out


class StackRun:
    """``fenwei stack up`` as a process; its printed lines are collected as they come."""

    def __init__(self, folder: Path, *, mqtt_url: str, store_url: str, state_url: str,
                 scenario: str, duration: str, seed: int, models: Path,
                 speed: float = SPEED) -> None:
        self.receiver = Receiver()
        self.lines: list[str] = []
        self.cond = threading.Condition()
        argv = [sys.executable, "-m", "core.cli", "stack", "up", "--scenario", scenario,
                "--duration", duration, "--seed", str(seed), "--speed", str(speed),
                "--api-port", "0", "--hj212-port", "0", "--sl651-port", "0",
                "--mqtt-url", mqtt_url, "--store-url", store_url, "--state-url", state_url,
                "--data-dir", str(folder), "--notify-webhook", self.receiver.url]
        env = {**os.environ, "FENWEI_FORECAST_REGISTRY_DIR": str(models),
               "PYTHONUNBUFFERED": "1"}
        self.folder = folder
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def line(self, pattern: str, timeout: float, after: int = 0) -> re.Match:
        """The first printed line from index ``after`` on matching ``pattern``."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for text in self.lines[after:]:
                    m = rx.search(text)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None and not self._more(rx, after):
                    raise AssertionError(f"no line matching {pattern!r} within {timeout:.0f}"
                                         f" s; the stack printed:\n" + "\n".join(self.lines))
                self.cond.wait(min(left, 1.0))

    def _more(self, rx, after) -> bool:
        return any(rx.search(t) for t in self.lines[after:])

    def pids(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for text in list(self.lines):
            m = re.match(r"^Process (\S+) pid (\d+)$", text)
            if m:
                out.setdefault(m.group(1), []).append(int(m.group(2)))
        return out

    @property
    def api(self) -> str:
        self.line(r"^API: (\S+)$", 1)
        return [t for t in self.lines if t.startswith("API: ")][-1].split(" ", 1)[1]

    def key(self, role: str) -> str:
        path = self.line(r"^Keys: (\S+)$", 1).group(1)
        return json.loads(Path(path).read_text())[role]

    def get(self, path: str, role: str = "inspector", **params) -> httpx.Response:
        return httpx.get(self.api + path, params=params, timeout=30,
                         headers={"Authorization": f"Bearer {self.key(role)}"})

    def finish(self, timeout: float) -> str:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)
            raise AssertionError("the stack did not stop by itself:\n" +
                                 "\n".join(self.lines[-40:]) + self.logs_tail())
        assert self.proc.returncode == 0, "\n".join(self.lines[-40:]) + self.logs_tail()
        time.sleep(0.5)   # the reader thread's last line
        return self.line(r"^stopped: ", 1).string

    def logs_tail(self) -> str:
        out = []
        for log in sorted((self.folder / "logs").glob("*.log")):
            errs = [t for t in log.read_text(errors="replace").splitlines()
                    if "Traceback" in t or " ERROR " in t][-5:]
            if errs:
                out.append(f"\n--- {log.name}:\n" + "\n".join(errs))
        return "".join(out)

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        for pids in self.pids().values():     # nothing of this run may outlive it
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.receiver.close()


def start_broker(folder: Path) -> Mosquitto:
    server = Mosquitto(folder)
    try:
        server.start()
    except ServerError as exc:
        if IN_CI:
            pytest.fail(f"Mosquitto could not be started under CI: {exc}", pytrace=False)
        pytest.skip(f"Mosquitto unavailable: {exc}")
    return server


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return tmp_path_factory.mktemp("e2e-models")


@pytest.fixture(scope="module")
def stack_up(tmp_path_factory, influxdb_server, postgres_base_url, models):
    """``stack_up(scenario, duration, seed)``: a StackRun on a broker and databases of its
    own (one run's sessions and retained messages never meet another's)."""
    runs, dbs, brokers = [], [], []

    def start(scenario: str, duration: str, seed: int = 1, speed: float = SPEED) -> StackRun:
        cm = fresh_pg_database(postgres_base_url, "fenwei_e2e")
        dbs.append(cm)
        broker = start_broker(tmp_path_factory.mktemp("e2e-mosquitto"))
        brokers.append(broker)
        run = StackRun(tmp_path_factory.mktemp(f"stack-{scenario}"), mqtt_url=broker.url,
                       store_url=influxdb_server.store_url(f"e2e_{uuid.uuid4().hex[:8]}"),
                       state_url=cm.__enter__(), scenario=scenario, duration=duration,
                       seed=seed, models=models, speed=speed)
        runs.append(run)
        return run
    yield start
    for run in runs:
        run.close()
    for broker in brokers:
        broker.stop()
    for cm in dbs:
        cm.__exit__(None, None, None)


def city_levels(bodies) -> dict[str, list[str]]:
    """Per city, the levels of the live air.warning notifications in the order sent."""
    warn = [b for b in bodies if b["kind"] == "air.warning" and not b["retrospective"]
            and b["event"] in ("issued", "updated")]
    by_city: dict[str, list[str]] = {}
    for b in sorted(warn, key=lambda b: b["sent_at"]):
        seq = by_city.setdefault(b["subject"]["id"], [])
        if not seq or seq[-1] != b["level"]:
            seq.append(b["level"])
    return by_city


def highest(by_city) -> dict[str, str]:
    return {c: max(seq, key=LEVELS.get) for c, seq in by_city.items()}


def stored_readings(store_url: str, scenario: str, seed: int, days: int) -> int:
    """Points stored in the scenario's period, counted in InfluxDB itself (a point is a
    measurement, station, period and time: a reading written twice is one point)."""
    from firmware_sim import Simulation
    from urllib.parse import urlsplit
    start = Simulation(scenario, seed=seed).start.astimezone(timezone.utc)
    end = start + timedelta(days=days, hours=1)
    url = urlsplit(store_url)
    q = (f"SELECT * FROM air, hydro WHERE time >= '{start:%Y-%m-%dT%H:%M:%SZ}' "
         f"AND time < '{end:%Y-%m-%dT%H:%M:%SZ}'")
    r = httpx.get(f"http://{url.hostname}:{url.port}/query", timeout=60,
                  params={"db": url.path.strip("/"), "q": q, "epoch": "s"})
    r.raise_for_status()
    points = set()
    for series in r.json()["results"][0].get("series", []):
        cols = series["columns"]
        st, per, t = cols.index("station"), cols.index("period"), cols.index("time")
        points.update((series["name"], v[st], v[per], v[t]) for v in series["values"])
    return len(points)


def check_winter(bodies, catalogue) -> dict[str, list[str]]:
    live = [b for b in bodies if not b["retrospective"]]
    by_city = city_levels(bodies)
    assert by_city, "no city warning delivered"
    levels = {lvl for seq in by_city.values() for lvl in seq}
    assert levels >= {"yellow", "orange", "red"}, by_city
    # warnings build up: a city's first level is its lowest until the episode peaks, and
    # some city starts at yellow
    for city, seq in by_city.items():
        peak = max(range(len(seq)), key=lambda i: LEVELS[seq[i]])
        assert all(LEVELS[a] <= LEVELS[b] for a, b in zip(seq[:peak], seq[1:peak + 1])), \
            (city, seq)
    assert any(seq[0] == "yellow" for seq in by_city.values()), by_city
    regional = [b for b in live if b["kind"] == "air.regional" and b["event"] == "issued"]
    assert regional, "no Fen-Wei regional joint warning delivered"
    covered = {c for b in regional for c in b["subject"]["cities"]}
    recipients = {b["recipient"]["id"] for b in regional}
    fenwei = {c.slug for c in catalogue.fenwei_cities()}
    assert len(covered) >= 3 and covered <= fenwei
    assert {f"team-{c}" for c in covered} <= recipients, (covered, recipients)
    assert {f"env-{catalogue.cities[c].province.lower()}" for c in covered} <= recipients
    return by_city


@pytest.fixture(scope="module")
def undisturbed_winter(stack_up, catalogue):
    """The winter run without faults; the API, feed and dashboard are checked during it."""
    run = stack_up("winter-episode", "4d")
    run.line(r"^Process sim pid \d+$", 300)
    observed = watch_api_live(run)
    stopped = run.finish(600)
    return run, stopped, observed


def watch_api_live(run: StackRun) -> dict:
    """While the replay runs: the standalone API serves live alerts, the CAP feed and the
    eco-flow reports, and the dashboard's warnings panel fills."""
    seen: dict = {}
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and run.proc.poll() is None:
        alerts = run.get("/alerts").json()
        warnings = [a for a in alerts if a["kind"] == "air.warning"]
        if warnings:
            seen["alerts"] = warnings
            break
        time.sleep(1.0)
    assert seen.get("alerts"), "no live air warning from the standalone API's /alerts"
    feed = run.get("/cap/feed.atom")
    assert feed.status_code == 200 and feed.text.count("<entry") >= 1, feed.text[:500]
    seen["feed"] = feed.text
    eco = run.get("/ecoflow/targets")
    assert eco.status_code == 200 and eco.json(), eco.text[:300]
    seen["dashboard"] = dashboard_warnings(run)
    return seen


def dashboard_warnings(run: StackRun) -> int:
    from tests.api.test_dashboard_browser import CHROMEDRIVER, CHROMIUM
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    os.environ.setdefault("SE_OFFLINE", "true")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1200", "--disable-background-networking",
                "--disable-component-update", "--disable-extensions"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        driver.get(f"{run.api}/dashboard/?key={run.key('city-team')}")
        deadline = time.monotonic() + 60
        n = 0
        while time.monotonic() < deadline:
            n = driver.execute_script(
                "return document.querySelectorAll('#warnings .warning[data-alert-id]').length")
            if n:
                break
            time.sleep(0.5)
        assert n, "the dashboard's warnings panel stayed empty"
        return n
    finally:
        driver.quit()


@pytest.mark.timeout(1200)
def test_winter_episode_every_service_a_process(undisturbed_winter, catalogue):
    run, stopped, observed = undisturbed_winter
    pids = run.pids()
    assert set(pids) >= {"ingest", "aqi", "forecast", "alerts", "edge", "api", "sim"}, pids
    firsts = [p[0] for p in pids.values()]
    assert len(set(firsts)) == len(firsts) and run.proc.pid not in firsts, pids
    m = re.match(r"^stopped: (\d+) readings published, (\d+) stored$", stopped)
    assert m and int(m.group(1)) > 0 and int(m.group(2)) >= int(m.group(1)), stopped
    # every station and hour of the period is there (34 air stations and 8 gauges, 96 h)
    assert stored_readings(run_store(run), "winter-episode", 1, 4) >= 42 * 96
    by_city = check_winter(run.receiver.bodies, catalogue)
    red = [c for c, seq in by_city.items() if "red" in seq]
    assert red, by_city
    assert observed["dashboard"] >= 1


@pytest.mark.timeout(1500)
def test_winter_episode_survives_kill_9_of_each_service(undisturbed_winter, stack_up,
                                                        catalogue):
    run = stack_up("winter-episode", "4d")
    at = len(run.lines)
    run.line(r"^Process sim pid \d+$", 300)
    t0 = time.monotonic()
    killed, killed_at = {}, {}
    for i, name in enumerate(("ingest", "alerts", "forecast", "api")):
        time.sleep(max(0.0, t0 + 12.0 * (i + 1) - time.monotonic()))   # 12 simulated hours
        pid = run.pids()[name][-1]
        killed_at[name] = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        killed[name] = pid
        n = len(run.lines)
        m = run.line(rf"^Process {name} pid (\d+)$", 90, after=n)
        assert int(m.group(1)) != pid
    stopped = run.finish(900)
    assert at >= 0 and all(len(run.pids()[n]) >= 2 for n in killed), run.pids()
    m = re.match(r"^stopped: (\d+) readings published, (\d+) stored$", stopped)
    assert m and int(m.group(1)) > 0, stopped
    published = int(m.group(1))
    # the same deterministic devices as the undisturbed run: the same points stored
    base_run = undisturbed_winter[0]
    assert int(re.search(r"(\d+) readings published", undisturbed_winter[1]).group(1)) \
        == published
    stored = stored_readings(run_store(run), "winter-episode", 1, 4)
    assert stored == stored_readings(run_store(base_run), "winter-episode", 1, 4), stored
    assert [k for k in run.receiver.keys if k]
    repeated = run.receiver.repeated_keys(killed_at["alerts"])
    assert not repeated, repeated
    base = highest(city_levels(undisturbed_winter[0].receiver.bodies))
    assert highest(city_levels(run.receiver.bodies)) == base


def run_store(run: StackRun) -> str:
    argv = run.proc.args
    return argv[argv.index("--store-url") + 1]


@pytest.mark.timeout(900)
def test_clean_week_raises_no_warning(stack_up):
    run = stack_up("clean-week", "3d")
    run.finish(600)
    air = [(b["kind"], b["subject"]["id"], b["level"], b["event"])
           for b in run.receiver.bodies
           if b["kind"] in ("air.warning", "air.regional", "air.realtime")]
    assert not air, air


@pytest.mark.timeout(1200)
def test_spring_lowflow_huaxian_yellow_then_red_and_the_monday_list(stack_up):
    # 14400x: six real seconds a simulated day, so the daily eco-flow rule sees each day
    run = stack_up("spring-lowflow", "8d", seed=0, speed=14400)
    run.line(r"^Process sim pid \d+$", 300)
    monday = None
    while run.proc.poll() is None:
        try:
            r = run.get("/ecoflow/monday", day="2027-04-05")
        except httpx.HTTPError:
            break          # the stack stopped its API at the end of the period
        if r.status_code == 200 and "huaxian" in r.text:
            monday = r.json()
        time.sleep(2.0)
    run.finish(60)
    notes = sorted((b for b in run.receiver.bodies if b["kind"] == "river.ecoflow"
                    and b["subject"]["id"] == "section:huaxian" and not b["retrospective"]),
                   key=lambda b: b["sent_at"])
    events: list[tuple[str, str]] = []   # one copy per team and bureau: each event once
    for b in notes:
        ev = (b["event"], b["level"])
        if b["event"] in ("issued", "updated") and ev not in events:
            events.append(ev)
    assert events[:2] == [("issued", "yellow"), ("updated", "red")], events
    assert {b["recipient"]["id"] for b in notes} >= {"team-weinan"}, notes[:1]
    assert monday is not None, "no Monday list naming Huaxian from the standalone API"
