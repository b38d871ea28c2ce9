"""End to end with the real services: firmware simulator → edge agents → Mosquitto → ingest →
InfluxDB → derived AQI and forecasts → alert rules (state in PostgreSQL) → webhook delivery.

The winter episode must give yellow, then orange and red city warnings and a Fen-Wei
regional joint warning delivered to every affected team and bureau; the clean week none.

Each run gets its own PostgreSQL database and InfluxDB database: warnings left open by one
scenario must not be held, lifted or raised to a regional minimum in the next. The forecast
model of each scenario is trained once per session (registry under ``demo_models``).

In the default run (about 3 minutes on a quiet machine): the winter episode's first four
simulated days (the whole build-up: every city's warnings reach their peak by the end of day
2; the demo's full week adds only the lifting) and three days of the clean week.

Two air stations per city (the first of each by the simulator's order) and every river gauge:
at 3600 simulated seconds per real second the whole chain shares one interpreter on a 2-core
machine, and the full network of 76 air stations left the rules too little of it to grade
each forecast issue. The city warnings are graded on city means, so two stations per city
exercise the same path.
"""
from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from alerts.ecoflow import TargetStore
from api.demo._alerts import DemoAlerts
from api.demo._chain import ScenarioChain
from api.demo._forecast import DemoForecasts
from api.demo._jobs import DerivedJobs
from core.store import open_store

SPEED = 3600.0
STATIONS = 42          # 2 air stations in each of the 17 cities, and the 8 river gauges
LEVELS = {"yellow": 1, "orange": 2, "red": 3}


class Receiver:
    """A tiny real HTTP server standing in for the teams' webhook endpoints."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                outer.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="session")
def demo_models(tmp_path_factory):
    return tmp_path_factory.mktemp("demo-models")


def run_chain(scenario, catalogue, tmp_path, mosquitto, influx_url, postgres_url, seed,
              speed=SPEED, duration="7d", models=None):
    store = open_store(influx_url, catalogue)
    receiver = Receiver()
    chain = ScenarioChain(catalogue, store, tmp_path, mosquitto.url, scenario=scenario,
                          seed=seed, speed=speed, duration=duration, stations=STATIONS)
    forecasts = DemoForecasts(store, catalogue, tmp_path, chain.now, start=chain.sim.start,
                              truth=chain.sim.truth, seed=seed, speed=speed, models=models)
    forecasts.prepare()   # before anything else runs, as the demo does
    assert forecasts.service is not None
    chain.start_ingest()
    chain.start_agents()
    targets = TargetStore(postgres_url, catalogue)
    alerting = DemoAlerts(catalogue, store, postgres_url, mosquitto.url, chain.now,
                          receiver.url, targets=targets, speed=speed,
                          share_group=f"e2e{seed}", forecast_driven=True)
    jobs = DerivedJobs(store, catalogue, chain.now, alerts=alerting.svc, forecasts=forecasts)
    try:
        jobs.start()
        chain.start_sim()
        deadline = time.monotonic() + 600
        while not chain.settled():
            assert chain.error is None, chain.error
            assert time.monotonic() < deadline, "the chain did not settle"
            time.sleep(1.0)
        jobs.final()
        alerting.svc.dispatch_once()
        time.sleep(2.0)  # the dispatcher's last deliveries
        assert forecasts.issued >= 4, forecasts.issued
        states = {c: alerting.svc.subject_status("air-warning", f"city:{c}")
                  for c in catalogue.cities}
        return chain, receiver.bodies, alerting.svc.alerts(), states
    finally:
        chain.stop()
        jobs.stop()
        alerting.stop()
        receiver.close()
        store.close()


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


@pytest.mark.services
@pytest.mark.timeout(900)
def test_winter_episode_end_to_end(catalogue, tmp_path, mosquitto, influx_url, pg_url,
                                   demo_models):
    chain, bodies, alerts, _ = run_chain("winter-episode", catalogue, tmp_path, mosquitto,
                                         influx_url, pg_url, seed=1, duration="4d",
                                         models=demo_models)
    assert chain.report is not None and chain.report.totals.lost == 0
    assert chain.ingest.stats()["stored"] >= chain.published() > 0
    live = [b for b in bodies if not b["retrospective"]]
    by_city = city_levels(bodies)
    summary = sorted({(a["kind"], a["level"], a["retrospective"], a["state"]) for a in alerts})
    assert by_city, f"no city warning delivered; alerts: {summary}"
    levels = {lvl for seq in by_city.values() for lvl in seq}
    assert levels >= {"yellow", "orange", "red"}, by_city
    assert len([c for c, seq in by_city.items() if "red" in seq]) >= 2, by_city
    # warnings build up: a city's first level is its lowest until the episode peaks, and
    # some city starts at yellow
    for city, seq in by_city.items():
        peak = max(range(len(seq)), key=lambda i: LEVELS[seq[i]])
        assert all(LEVELS[a] <= LEVELS[b] for a, b in zip(seq[:peak], seq[1:peak + 1])), \
            (city, seq)
    assert any(seq[0] == "yellow" for seq in by_city.values()), by_city
    # every warning was issued by a model forecast, with its run and AQI sequence
    issued = [a for a in alerts if a["kind"] == "air.warning"]
    assert issued and all(a["evidence"].get("forecast", {}).get("issue_time")
                          for a in issued), issued[0]["evidence"] if issued else None
    red = [a for a in issued if a["level"] == "red" and a["evidence"].get("basis") == "forecast"]
    assert all(a["evidence"]["forecast"]["model_id"].startswith("air-") for a in red), red[:1]
    regional = [b for b in live if b["kind"] == "air.regional" and b["event"] == "issued"]
    assert regional, "no Fen-Wei regional joint warning delivered"
    covered = {c for b in regional for c in b["subject"]["cities"]}
    recipients = {b["recipient"]["id"] for b in regional}
    fenwei = {c.slug for c in catalogue.fenwei_cities()}
    assert len(covered) >= 3 and covered <= fenwei
    teams = {f"team-{c}" for c in covered}
    bureaus = {f"env-{catalogue.cities[c].province.lower()}" for c in covered}
    assert teams <= recipients, (covered, recipients)
    assert bureaus <= recipients, (covered, recipients)


@pytest.mark.services
@pytest.mark.timeout(600)
def test_clean_week_end_to_end_raises_no_warning(catalogue, tmp_path, mosquitto, influx_url,
                                                 pg_url, demo_models):
    chain, bodies, alerts, states = run_chain("clean-week", catalogue, tmp_path, mosquitto, influx_url,
                                      pg_url, seed=1, duration="3d", models=demo_models)
    assert chain.report is not None and chain.report.totals.lost == 0
    assert chain.ingest.stats()["stored"] >= chain.published() > 0
    air = [(b["kind"], b["subject"]["id"], b["level"], b["event"]) for b in bodies
           if b["kind"] in ("air.warning", "air.regional", "air.realtime")]
    assert not air, air
    assert not [a for a in alerts if a["kind"].startswith("air.")]
    # the warning rule did grade every city's forecast and found it clear (not "insufficient")
    assert {c: (st or {}).get("status") for c, st in states.items()} == \
        {c: "clear" for c in catalogue.cities}
