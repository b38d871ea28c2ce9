"""Helpers of the river and liveness tests: firmware_sim hourly truth into a store, and a tiny
real HTTP webhook receiver."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from core.wire import Reading
from firmware_sim import Simulation
from firmware_sim._hydro import Flood
from firmware_sim._scenario import load_scenario


def hydro_readings(sim: Simulation, *, faults: bool = True) -> list[Reading]:
    """Hourly gauge readings of a simulation, the scenario's value faults applied."""
    frame = sim.hourly_frame("hydro")
    out = []
    for station, g in frame.groupby("station", sort=False):
        params = ("stage", "discharge")
        f = sim.station_faults(station, params) if faults else None
        for ts, city, h, q in zip(g["ts"], g["city"], g["stage"], g["discharge"]):
            values, flags = [float(h), float(q)], ["N", "N"]
            if f:
                t0 = ts.timestamp()
                f.apply(t0, t0 + 3600, values, flags)
            vals = {p: v for p, v in zip(params, values) if v is not None}
            fl = {p: x for p, x in zip(params, flags) if x != "N" and p in vals}
            out.append(Reading(station, city, "hydro", ts.to_pydatetime(), "PT1H", vals, fl))
    return out


def spring_lowflow_with_recovery() -> tuple[Simulation, Simulation]:
    """The packaged spring-lowflow's dry week alone (its own recovery flood left out, seven
    days), then a week from 2027-04-08 in which a flood wave at the head of the Wei
    (Linjiacun) lifts Huaxian above its target (the recovery)."""
    sc = load_scenario("spring-lowflow")
    dry = replace(sc, duration=timedelta(days=7),
                  physics=replace(sc.physics, hydro=replace(sc.physics.hydro, floods=())))
    low = Simulation(dry)
    start = low.end
    flood = (Flood(start + timedelta(hours=6), "linjiacun", 100.0, 30.0),)
    wet = replace(sc, name="spring-recovery", start=start,
                  physics=replace(sc.physics, hydro=replace(sc.physics.hydro, floods=flood)))
    return low, Simulation(wet)


def daily_truth(readings: list[Reading], station: str) -> dict:
    """Hand computation: CST-day means of a station's discharge readings."""
    from core.timeutil import CST
    days: dict = {}
    for r in readings:
        if r.station == station and "discharge" in r.values:
            days.setdefault(r.ts.astimezone(CST).date(), []).append(r.values["discharge"])
    return {d: float(np.mean(v)) for d, v in days.items() if len(v) >= 20}


def at_cst(day, hour: int = 9) -> datetime:
    from core.timeutil import CST
    return datetime(day.year, day.month, day.day, hour, tzinfo=CST)


class Receiver:
    """A tiny webhook receiver: every POSTed JSON body, in arrival order."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.cond = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.cond:
                    outer.bodies.append(json.loads(body))
                    outer.cond.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, pred, timeout: float) -> list[dict]:
        """The bodies matching ``pred`` (a body -> bool) once there is at least one."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                hits = [b for b in self.bodies if pred(b)]
                left = deadline - time.monotonic()
                if hits or left <= 0:
                    return hits
                self.cond.wait(left)

    def close(self) -> None:
        self.server.shutdown()


def site_agent(tmp_path, mqtt_url: str, agent_id: str, stations) -> "EdgeAgent":
    """A real edge agent (site gateway) with one HJ 212 device per station, fast status and
    reconnects, on free ports."""
    from edge.agent import EdgeAgent, parse_config
    cfg = parse_config({
        "agent_id": agent_id, "data_dir": str(tmp_path / "agent"),
        "hj212": {"host": "127.0.0.1", "port": 0}, "sl651": {"host": "127.0.0.1", "port": 0},
        "mqtt": {"status_interval_s": 1.0, "backoff_initial_s": 0.2, "backoff_max_s": 1.0,
                 "client_id_prefix": f"{agent_id[-6:]}{time.time_ns() % 10**9}"},
        "devices": [{"protocol": "hj212", "station": s, "mn": f"MN{i:022d}", "password": "123456"}
                    for i, s in enumerate(stations)]})
    return EdgeAgent(cfg, mqtt_url=mqtt_url)
