"""Wiring of the demo's parts; start sink-first, stop source-first."""
from __future__ import annotations

import asyncio
import json
import os
import logging
import shutil
import signal
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import uvicorn

from core.ecoflow import TargetStore
from core.catalogue import load_catalogue
from core.localservers import free_port, wait_port
from core.store import open_store
from core.timeutil import CST, parse_duration

from api.app import create_app
from api.auth import KeyStore
from ..services import Alerting
from ._jobs import DerivedJobs
from ._broker import make_broker
from ._sources import GENERATOR, GeneratorSource, ScenarioSource

log = logging.getLogger(__name__)


DEFAULT_SCENARIO = "winter-episode"
# a scenario's stations without --stations: two air stations per city and every river gauge.
# The embedded pure-Python broker and the whole chain share one interpreter; with all 84
# stations a scenario falls hours behind at 3600x, with these it keeps up.
SCENARIO_STATIONS = 42


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
    forecast_model: bool = True  # False: no model trained; the rules grade persistence


def _demo_keys(keys: KeyStore, data_dir: Path) -> Path:
    """Demo mode only: one API key per role, written to keys.json in the data dir."""
    scopes = {"station": "1462A", "inspector": None, "city-team": "xian", "bureau": "Shaanxi",
              "admin": None}
    out = {role: keys.create(f"demo-{role}", role, scope)[1] for role, scope in scopes.items()}
    path = data_dir / "keys.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    return path


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def _say(line: str) -> None:
    print(line, flush=True)


def run_demo(opts: DemoOptions) -> int:
    logging.getLogger().setLevel(os.environ.get("FENWEI_LOG_LEVEL", "WARNING").upper())
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # skipped runs at high speed
    try:
        span = parse_duration(opts.duration) if opts.duration else None
    except ValueError as exc:
        _say(f"fenwei demo: --duration: {exc}")
        return 2
    if opts.speed <= 0:
        _say("fenwei demo: --speed must be positive")
        return 2
    scenario = opts.scenario or DEFAULT_SCENARIO
    if scenario != GENERATOR:
        from firmware_sim import scenario_names
        if scenario not in scenario_names() and not Path(scenario).is_file():
            _say(f"fenwei demo: --scenario: unknown scenario {scenario!r}; choose one of "
                 f"{', '.join([GENERATOR, *scenario_names()])} or a TOML file")
            return 2
    tmp = None
    data_dir = opts.data_dir
    if data_dir is None:
        tmp = data_dir = Path(tempfile.mkdtemp(prefix="fenwei-demo-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    loop = asyncio.new_event_loop()
    try:
        # not asyncio.run: its final wait for the default executor would hang on a library's
        # worker thread after every part has already been stopped and drained
        return loop.run_until_complete(_main(opts, scenario, data_dir, span))
    finally:
        loop.close()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _source(opts: DemoOptions, scenario: str, cat, store, data_dir: Path, port: int, span):
    if scenario == GENERATOR:
        return GeneratorSource(cat, store, port, speed=opts.speed, seed=opts.seed, span=span,
                               stations=opts.stations)
    stations = SCENARIO_STATIONS if opts.stations is None else opts.stations
    return ScenarioSource(cat, store, data_dir, port, scenario=scenario, seed=opts.seed,
                          speed=opts.speed, duration=opts.duration, stations=stations)


async def _main(opts: DemoOptions, scenario: str, data_dir: Path,
                span: timedelta | None) -> int:
    cat = load_catalogue()
    mqtt_port = opts.mqtt_port or free_port()
    # port 0: the API's socket is bound here, so no other process can take the port between
    # picking it and listening on it
    api_sock = _listen("127.0.0.1", 0) if not opts.api_port else None
    api_port = api_sock.getsockname()[1] if api_sock else opts.api_port
    broker = make_broker(mqtt_port)
    await broker.start()
    await asyncio.to_thread(wait_port, mqtt_port)
    _say(f"MQTT: mqtt://127.0.0.1:{mqtt_port}")
    store = open_store(f"duckdb://{data_dir / 'fenwei.duckdb'}", cat)
    source = _source(opts, scenario, cat, store, data_dir, mqtt_port, span)
    forecasts = source.forecasts(store, cat, data_dir) if opts.forecast_model else None
    training = None
    if forecasts is not None:
        # trained while the sink and the state database are set up (scikit-learn's fitting
        # leaves the interpreter free most of the time), before the rules start
        _say("training the forecast model on simulated history ...")
        training = asyncio.ensure_future(asyncio.to_thread(forecasts.prepare))
    source.start_sink()
    state_url = f"sqlite:///{data_dir / 'fenwei-state.db'}"
    keys = await asyncio.to_thread(KeyStore, state_url)
    targets = await asyncio.to_thread(TargetStore, state_url, cat)
    if training is not None:
        await training
    # the embedded amqtt broker has no shared subscriptions: share_group=""
    alerting = Alerting(catalogue=cat, store=store, clock=source.now,
                        state_url=f"sqlite:///{data_dir / 'fenwei-alerts.db'}",
                        mqtt_url=f"mqtt://127.0.0.1:{mqtt_port}", speed=opts.speed,
                        notify_webhook=opts.notify_webhook, share_group="", targets=targets,
                        forecast_driven=forecasts is not None and forecasts.service is not None)
    alerting.start()
    alerts = alerting.svc
    jobs = DerivedJobs(store, cat, source.now, alerting=alerting, forecasts=forecasts,
                       speed=opts.speed)
    jobs.start()
    app = create_app(store, cat, keys, targets=targets, alert_service=alerts,
                     dead_letters_path=data_dir / "ingest-state.sqlite", clock=source.now)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1",
                                           port=api_port, log_level="warning"))
    api_thread = threading.Thread(target=server.run, name="demo-api", daemon=True,
                                  kwargs={"sockets": [api_sock] if api_sock else None})
    api_thread.start()
    while not server.started:
        if not api_thread.is_alive():
            _say(f"fenwei demo: the API could not listen on port {api_port}")
            return 1
        await asyncio.sleep(0.05)
    _say(f"API: http://127.0.0.1:{api_port}")
    _say(f"Dashboard: http://127.0.0.1:{api_port}/dashboard/")
    _say(f"Keys: {_demo_keys(keys, data_dir)}")
    source.start_source()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        finished = await _summary(source, stop)
        if finished:
            await asyncio.to_thread(jobs.final)
            if span is None and scenario != GENERATOR:   # no --duration: serve until Ctrl-C
                _say("serving until Ctrl-C (simulated clock held at the end of the period)")
                await stop.wait()
    finally:
        t0 = time.monotonic()
        # in worker threads: the embedded broker runs on this event loop, and the clients
        # being stopped (paho's loop_stop, final publishes) need it to keep serving.
        # The alert service stops before the source: stopping edge agents say their sites
        # are offline, and the demo's own end is no site going down (an alert per simulated
        # site in the last second). Then the source, so ingest stores what was sent.
        await asyncio.to_thread(jobs.stop)
        await asyncio.to_thread(alerting.stop)
        await asyncio.to_thread(source.stop)
        log.info("demo: pipeline stopped in %.1fs", time.monotonic() - t0)
        server.should_exit = True
        api_thread.join(10)
        try:
            await asyncio.wait_for(broker.shutdown(), 5.0)
        except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - it is going away anyway
            log.warning("embedded broker did not shut down cleanly")
        store.close()                    # sink last
        log.info("demo: stopped in %.1fs", time.monotonic() - t0)
    if opts.notify_webhook:
        _say(_notification_counts(alerts))
    _say(f"stopped: {source.published()} readings published, {source.counts()[1]} stored")
    return 0


def _notification_counts(alerts) -> str:
    """The end summary of what reached --notify-webhook: the messages (POSTs) delivered, per
    event (a group of several events counts as ``group``), and the alert notifications they
    carried. The rows of one group message share its group key and delivery time."""
    from collections import Counter
    try:
        rows = [r for r in alerts.outbox(status="delivered")
                if r["recipient_id"] == "catchall-webhook"]
    except Exception:  # noqa: BLE001 - a summary line never fails the demo's exit
        log.exception("counting notifications failed")
        return "notifications: unknown"
    messages: dict = {}
    for r in rows:
        key = r["id"] if r["group_key"] is None else (r["group_key"], r["delivered_at"])
        messages.setdefault(key, []).append(r["event"])
    per = Counter(ev[0] if len(set(ev)) == 1 else "group" for ev in messages.values())
    groups = sum(1 for ev in messages.values() if len(ev) > 1)
    return f"notifications: {len(messages)} delivered to --notify-webhook (" + ", ".join(
        f"{ev} {n}" for ev, n in sorted(per.items())) + f"): {len(rows)} alert " \
        f"notifications, {groups} messages of several"


SUMMARY_EVERY_S = 2.0
DONE_CHECK_S = 0.25   # the end of a --duration run is noticed within this (was: 2 s)


async def _summary(source, stop: asyncio.Event) -> bool:
    last_r, last_s, last_t = 0, 0, time.monotonic()
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=DONE_CHECK_S)
        except asyncio.TimeoutError:
            pass
        now = time.monotonic()
        # a summary every 2 s; the last one as soon as everything is stored (or on stop)
        if not stop.is_set() and now - last_t < SUMMARY_EVERY_S and not source.done():
            continue
        dt = max(now - last_t, 1e-6)
        received, stored, rejected = source.counts()
        sim = source.sim_time().astimezone(CST).strftime("%Y-%m-%d %H:%M CST")
        _say(f"sim {sim} | received {(received - last_r) / dt:7.1f} msg/s | stored "
             f"{(stored - last_s) / dt:7.1f} readings/s | total stored {stored}"
             f" | rejected {rejected}")
        last_r, last_s, last_t = received, stored, now
        if source.done():
            _say("simulated period delivered and stored")
            return True
    return False
