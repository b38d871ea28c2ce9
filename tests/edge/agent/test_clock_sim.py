"""A simulated logger whose clock runs 15 minutes fast (clock_skew fault) is set right by the
agent with CN 1012, over real TCP: its later real-time data carry the right time."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from edge.agent import EdgeAgent, parse_config
from firmware_sim import Fault, SimClock, Simulation, load_scenario, shift_scenario

pytestmark = pytest.mark.services
T0 = datetime(2026, 3, 2, 0, 0, tzinfo=timezone.utc)
STATION = "1462A"


def test_fast_logger_clock_is_set_with_1012(tmp_path, mosquitto, subscriber, catalogue,
                                            caplog):
    assert subscriber.subscribed.wait(10)
    sc = shift_scenario(load_scenario("winter-episode"), T0)
    skew = Fault("clock_skew", STATION, T0.timestamp(), (T0 + timedelta(hours=1)).timestamp(),
                 value=900.0)
    sc = replace(sc, duration=timedelta(minutes=10), faults=(skew,))
    sc = sc.with_devices(realtime_interval_s=60, minute_interval_s=0, hourly=False, ack_cns=())
    sim = Simulation(sc, seed=1, station_ids=[STATION])
    clock = SimClock(T0.timestamp(), 60.0)           # a simulated minute per real second
    cfg = parse_config({
        "agent_id": "t-clock", "data_dir": str(tmp_path / "agent"),
        "hj212": {"host": "127.0.0.1", "port": 0}, "sl651": {"host": "127.0.0.1", "port": 0},
        "mqtt": {"backoff_initial_s": 0.2, "backoff_max_s": 1.0, "client_id_prefix": "t-ck"},
        "qc": {"max_skew_s": 1200.0},   # QC keeps the fast logger's own times (not agent_ts)
        "devices": [{"protocol": "hj212", "station": STATION, "mn": STATION,
                     "password": "123456"}]})
    caplog.set_level(logging.WARNING, logger="edge.agent")
    with EdgeAgent(cfg, mqtt_url=mosquitto.url, catalogue=catalogue,
                   clock=clock.now_threadsafe) as agent:
        report = asyncio.run(sim.run(f"127.0.0.1:{agent.ports['hj212']}", None, clock=clock,
                                     ack_floor_real_s=0.2))
        end = T0 + timedelta(minutes=10)
        assert subscriber.wait(lambda: any(r.ts < end - timedelta(minutes=3)
                                           for r in subscriber.readings(STATION)), 15)
    assert report.per_device[STATION].commands["1012"] == 1
    assert len([m for m in caplog.messages if "sent CN 1012" in m]) == 1
    got = sorted({r.ts for r in subscriber.readings(STATION)})
    # one real-time value a minute: before the 1012 the logger stamps them 900 s ahead (after
    # T0 + 15 min), after it on the right minute, within the 10 simulated minutes
    ahead = [t for t in got if t >= T0 + timedelta(minutes=15)]
    right = [t for t in got if t < end]
    assert 2 <= len(ahead) <= 3 and len(right) >= 5, got
    assert len(ahead) + len(right) == len(got)
