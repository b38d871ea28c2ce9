"""Wiring of the demo's parts; start sink-first, stop source-first."""
from __future__ import annotations

import asyncio
import json
import logging
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import uvicorn

from alerts.ecoflow import TargetStore
from core.catalogue import load_catalogue
from core.localservers import free_port, wait_port
from core.store import open_store
from core.timeutil import CST, parse_duration

from ..app import create_app
from ..auth import KeyStore
from ._jobs import DerivedJobs
from ._broker import make_broker
from ._generator import Generator, default_start
from ._ingest import SimpleIngest

log = logging.getLogger(__name__)


@dataclass
class DemoOptions:
    api_port: int = 8000
    mqtt_port: int = 11883
    data_dir: Path | None = None
    scenario: str | None = None
    speed: float = 3600.0
    duration: str | None = None
    seed: int = 0
    stations: int | None = None
    notify_webhook: str | None = None


class _SimClock:
    """Simulated wall clock: the generator's simulated time (real time before it starts)."""

    def __init__(self, start: datetime, speed: float) -> None:
        self.start, self.speed, self.gen = start, speed, None

    def follow(self, gen: Generator) -> None:
        self.gen = gen

    def now(self) -> float:
        t = self.gen.sim_t if self.gen is not None else self.start
        return max(t.timestamp(), time.time())


def _demo_keys(keys: KeyStore, data_dir: Path) -> Path:
    """Demo mode only: one API key per role, written to keys.json in the data dir."""
    scopes = {"station": "1462A", "inspector": None, "city-team": "xian", "bureau": "Shaanxi",
              "admin": None}
    out = {role: keys.create(f"demo-{role}", role, scope)[1] for role, scope in scopes.items()}
    path = data_dir / "keys.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    return path


def _say(line: str) -> None:
    print(line, flush=True)


def run_demo(opts: DemoOptions) -> int:
    try:
        span = parse_duration(opts.duration) if opts.duration else None
    except ValueError as exc:
        _say(f"fenwei demo: --duration: {exc}")
        return 2
    if opts.speed <= 0:
        _say("fenwei demo: --speed must be positive")
        return 2
    if opts.scenario is not None:
        _say(f"fenwei demo: --scenario {opts.scenario!r}: the firmware simulator is not "
             f"available in this build; using the simple generator")
    if opts.notify_webhook:
        _say("fenwei demo: --notify-webhook: alerting is not available in this build yet")
    tmp = None
    data_dir = opts.data_dir
    if data_dir is None:
        tmp = data_dir = Path(tempfile.mkdtemp(prefix="fenwei-demo-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        return asyncio.run(_main(opts, data_dir, span))
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


async def _main(opts: DemoOptions, data_dir: Path, span: timedelta | None) -> int:
    cat = load_catalogue()
    mqtt_port = opts.mqtt_port or free_port()
    api_port = opts.api_port or free_port()
    broker = make_broker(mqtt_port)
    await broker.start()
    await asyncio.to_thread(wait_port, mqtt_port)
    _say(f"MQTT: mqtt://127.0.0.1:{mqtt_port}")
    store = open_store(f"duckdb://{data_dir / 'fenwei.duckdb'}", cat)
    start = default_start()
    sim_clock = _SimClock(start, opts.speed)  # the demo runs on simulated time
    ingest = SimpleIngest(cat, store, "127.0.0.1", mqtt_port, clock=sim_clock.now)
    ingest.start()
    state_url = f"sqlite:///{data_dir / 'fenwei-state.db'}"
    keys = KeyStore(state_url)
    targets = TargetStore(state_url, cat)
    jobs = DerivedJobs(store, cat, sim_clock.now)
    jobs.start()
    app = create_app(store, cat, keys, targets=targets, clock=sim_clock.now)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1",
                                           port=api_port, log_level="warning"))
    api_thread = threading.Thread(target=server.run, name="demo-api", daemon=True)
    api_thread.start()
    while not server.started:
        if not api_thread.is_alive():
            _say(f"fenwei demo: the API could not listen on port {api_port}")
            return 1
        await asyncio.sleep(0.05)
    _say(f"API: http://127.0.0.1:{api_port}")
    _say(f"Dashboard: http://127.0.0.1:{api_port}/dashboard/")
    _say(f"Keys: {_demo_keys(keys, data_dir)}")
    gen = Generator(cat, "127.0.0.1", mqtt_port, speed=opts.speed, seed=opts.seed, start=start,
                    end=start + span if span else None, stations=opts.stations)
    sim_clock.follow(gen)
    gen.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await _summary(gen, ingest, stop)
    finally:
        gen.stop()                       # source first
        ingest.stop()
        jobs.stop()
        server.should_exit = True
        api_thread.join(10)
        await broker.shutdown()
        store.close()                    # sink last
    _say(f"stopped: {gen.published} readings published, {ingest.stored} stored")
    return 0


async def _summary(gen: Generator, ingest: SimpleIngest, stop: asyncio.Event) -> None:
    last_r, last_s, last_t = 0, 0, time.monotonic()
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=2.0)
        except asyncio.TimeoutError:
            pass
        now = time.monotonic()
        dt = max(now - last_t, 1e-6)
        sim = gen.sim_t.astimezone(CST).strftime("%Y-%m-%d %H:%M CST")
        _say(f"sim {sim} | received {(ingest.received - last_r) / dt:7.1f} msg/s | stored "
             f"{(ingest.stored - last_s) / dt:7.1f} readings/s | total stored {ingest.stored}"
             f" | rejected {ingest.rejected}")
        last_r, last_s, last_t = ingest.received, ingest.stored, now
        if gen.done and ingest.stored + ingest.rejected >= gen.published:
            _say("simulated period delivered and stored")
            return
