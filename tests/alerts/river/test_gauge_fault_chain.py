"""The faults scenario's gauge fault through the whole chain: simulated SL 651 telemetry units
(the fault injected in the device's values) -> a real edge agent -> real Mosquitto -> a real
Ingestor -> the store -> the eco-flow and plausibility rules. One data-quality alert for the
faulty gauge, no river alert."""
from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from importlib import resources

import pytest

from alerts import ManualClock
from core.store import open_store
from edge.agent import AgentConfig, EdgeAgent, default_devices
from firmware_sim import SimClock, Simulation
from ingest import IngestConfig, Ingestor

from .conftest import open_alerts, recipients_of

ECO = {"id": "ecoflow-daily", "type": "ecoflow", "kind": "river.ecoflow"}
GAUGE = {"id": "gauge", "type": "gauge_plausibility", "kind": "quality.gauge"}
GAUGES = ["linjiacun", "weijiabao", "xianyang-wei", "zhangjiashan", "lintong", "huaxian"]
SPEED = 86400.0 / 2           # half a simulated day per real second


def _scenario(tmp_path):
    """The packaged faults week with its gauge fault only, after four fault-free lead-in days
    (the plausibility check's baseline): same physics, start four days earlier, the fault at
    +6d (the packaged +2d), 10 days in all (the fault ends two days before)."""
    text = resources.files("firmware_sim").joinpath("scenarios", "faults.toml") \
        .read_text(encoding="utf-8")
    head, _, rest = text.partition("[[faults]]")
    gauge = next("[[faults]]" + f for f in rest.split("[[faults]]") if '"gauge_off"' in f)
    for old, new in (('start = "2027-01-10T00:00:00+08:00"', 'start = "2027-01-06T00:00:00+08:00"'),
                     ('duration = "7d"', 'duration = "10d"')):
        assert head.count(old) == 1, old
        head = head.replace(old, new)
    assert gauge.count('start = "+2d"') == 1 and 'station = "lintong"' in gauge
    path = tmp_path / "faults-gauge.toml"
    path.write_text(head + gauge.replace('start = "+2d"', 'start = "+6d"'), encoding="utf-8")
    return path


def _wait(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def test_gauge_fault_through_the_chain_is_a_quality_alert_not_a_river_alert(
        make_service, catalogue, mosquitto, tmp_path):
    sim = Simulation(str(_scenario(tmp_path)), station_ids=GAUGES)
    clock = SimClock(sim.start.timestamp(), SPEED)
    store = open_store("duckdb://:memory:", catalogue)
    ingest = Ingestor(IngestConfig(mqtt_url=mosquitto.url, state_path=tmp_path / "ing.sqlite",
                                   client_id="gf-ingest", batch_ms=50),
                      catalogue=catalogue, store=store, clock=clock.now_threadsafe).start()
    base = AgentConfig()
    cfg = base.model_copy(update={
        "agent_id": "gw-wei", "data_dir": tmp_path / "agent",
        "devices": tuple(d for d in default_devices(catalogue) if d.station in GAUGES),
        "hj212": base.hj212.model_copy(update={"host": "127.0.0.1", "port": 0}),
        "sl651": base.sl651.model_copy(update={"host": "127.0.0.1", "port": 0}),
        "qc": base.qc.model_copy(update={"max_skew_s": 4 * SPEED})})
    cfg.data_dir.mkdir(parents=True)
    agent = EdgeAgent(cfg, mqtt_url=mosquitto.url, catalogue=catalogue,
                      clock=clock.now_threadsafe).start()
    try:
        assert ingest.subscribed.wait(15)
        target = f"127.0.0.1:{agent.ports['sl651']}"
        asyncio.run(sim.run(None, None, SPEED, clock=clock, target_for=lambda st: target))
        published = lambda: agent.stats["agent"].get("published", 0)   # noqa: E731
        assert _wait(lambda: agent.stats["queue_depth"] == 0 and
                     ingest.stats()["stored"] >= published() > 0, 60), ingest.stats()
    finally:
        agent.stop()
        ingest.stop()
    stored = store.raw("hydro", ["lintong"], ["discharge"], sim.start, sim.end)
    assert len(stored) >= 10 * 24 * 0.95          # the chain delivered the gauge's 10 days

    fault_start = sim.start + timedelta(days=6)
    alerts = ManualClock(fault_start - timedelta(days=2))
    svc = make_service([ECO, GAUGE], store, alerts)
    seen = set()
    t = fault_start - timedelta(days=2)
    while t <= sim.end:                            # every 6 simulated hours, as scheduled
        alerts.set(t)
        svc.run_periodic()
        seen |= {(a["kind"], a["subject"]) for a in open_alerts(svc)}
        t += timedelta(hours=6)
    assert seen == {("quality.gauge", "station:lintong")}   # the faulty gauge, no river alert
    (alert,) = svc.alerts(rule_id="gauge")
    assert alert["state"] == "resolved"            # the fault ended two days later
    assert "ops-platform" in recipients_of(svc, alert["id"])
    opened = svc.audit(alert["id"])[0]["evidence"]
    assert opened["ratio_to_neighbours"] == pytest.approx(4.0, rel=0.25)   # the injected x4
    assert datetime.fromisoformat(opened["first"]) >= fault_start
