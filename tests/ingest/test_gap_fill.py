"""Gap filling (反控补数) end to end: a simulated logger over TCP loses 6 hours to an outage it
does not back-fill; the ingest finds the hole in the stored hourly series, asks the station's
edge agent on the fill topic, the agent asks the logger (HJ 212 2061 with BeginTime/EndTime,
SL 651 38 queries), and what the logger sends from its history fills the series.

Real Mosquitto, the ingest with a DuckDB store, the edge agent and the firmware simulator's
devices over real TCP; every process reads the simulator's clock.
"""
from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from core.store import open_store
from core.wire import iso
from edge.agent import EdgeAgent, parse_config
from firmware_sim import Fault, SimClock, Simulation, load_scenario, shift_scenario
from ingest import IngestConfig, Ingestor

from .conftest import wait_until

pytestmark = pytest.mark.services

T0 = datetime(2026, 12, 11, 0, 0, tzinfo=timezone.utc)
HOUR = 3600
SPEED = 3600.0          # one simulated hour per real second
AIR, HYDRO, HYDRO_ADDR = "1462A", "lintong", "0041102500"


def _simulation(station: str, kind: str) -> Simulation:
    """12 h from T0; the device's link is lost from T0+3h to T0+9h (comms_loss: nothing it
    buffers or back-fills by itself)."""
    sc = shift_scenario(load_scenario("winter-episode"), T0)
    outage = Fault("comms_loss", station, (T0 + timedelta(hours=3)).timestamp(),
                   (T0 + timedelta(hours=9)).timestamp())
    sc = replace(sc, duration=timedelta(hours=12), faults=(outage,))
    sc = sc.with_devices(realtime_interval_s=0, minute_interval_s=0, ack_cns=("2061",))
    sc = sc.with_hydro(reports=("34",))
    return Simulation(sc, seed=1, station_ids=[station])


def _agent_config(tmp_path, device: dict):
    return parse_config({
        "agent_id": "t-fill", "data_dir": str(tmp_path / "agent"),
        "hj212": {"host": "127.0.0.1", "port": 0}, "sl651": {"host": "127.0.0.1", "port": 0},
        "mqtt": {"backoff_initial_s": 0.2, "backoff_max_s": 1.0, "status_interval_s": 1.0,
                 "client_id_prefix": "t-fill"},
        "devices": [device]})


def _ingest(mosquitto, catalogue, tmp_path, clock, store_url="duckdb://:memory:") -> Ingestor:
    cfg = IngestConfig(mqtt_url=mosquitto.url, store_url=store_url,
                       state_path=tmp_path / "state.sqlite", client_id="t-fill-ingest",
                       batch_ms=20, gap_scan_s=0.1, gap_grace_s=1800,
                       gap_retry_initial_s=2 * HOUR, gap_retry_max_s=4 * HOUR,
                       gap_min_interval_s=0)
    ing = Ingestor(cfg, catalogue=catalogue, store=open_store(store_url, catalogue),
                   clock=clock).start()
    assert ing.subscribed.wait(10)
    return ing


def _run(sim: Simulation, clock: SimClock, air: str | None, hydro: str | None):
    out: dict = {}

    def go() -> None:
        out["report"] = asyncio.run(sim.run(air, hydro, clock=clock, ack_floor_real_s=0.2))
    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t, out


def _stored_hours(ing: Ingestor, kind: str, station: str, param: str, period: str) -> list:
    df = ing._store.raw(kind, [station], [param], T0, T0 + timedelta(hours=11))
    df = df[(df.period == period) & df[param].notna()]
    return sorted(int((t - T0).total_seconds()) // HOUR for t in df.time)


def _check_gap(ing: Ingestor, station: str, first_h: int, last_h: int) -> dict:
    gaps = ing.fill_gaps(station)
    assert len(gaps) == 1, gaps
    g = gaps[0]
    assert (g["start"], g["end"]) == (iso(T0 + timedelta(hours=first_h)),
                                      iso(T0 + timedelta(hours=last_h))), g
    assert g["slots"] == last_h - first_h + 1 == 6
    return g


def test_hj212_logger_outage_is_filled_by_history_requests(tmp_path, mosquitto, catalogue):
    sim = _simulation(AIR, "air")
    clock = SimClock(T0.timestamp(), SPEED)
    ing = _ingest(mosquitto, catalogue, tmp_path, clock.now_threadsafe)
    dev = {"protocol": "hj212", "station": AIR, "mn": AIR, "password": "123456"}
    agent = EdgeAgent(_agent_config(tmp_path, dev), mqtt_url=mosquitto.url,
                      catalogue=catalogue, clock=clock.now_threadsafe).start()
    try:
        thread, out = _run(sim, clock, f"127.0.0.1:{agent.ports['hj212']}", None)
        thread.join(60)
        assert not thread.is_alive()
        # The hour [h, h+1) is uploaded (2061, DataTime = h) at h+1 plus a few seconds. Uploads
        # due in [T0+3h, T0+9h) are lost: the hours 2..7 (6 hours), between hour 1 (sent at
        # 2h) and hour 8 (sent at 9h, after the link is back).
        stats = out["report"].per_device[AIR]
        assert stats.backfilled == 0 and stats.lost == 6, stats
        assert stats.commands["2061"] >= 1, stats     # the logger was asked for its history
        assert wait_until(lambda: _stored_hours(ing, "air", AIR, "pm25", "PT1H")
                          == list(range(11)), 20), _stored_hours(ing, "air", AIR, "pm25", "PT1H")
        assert wait_until(lambda: ing.fill_gaps(AIR) and
                          ing.fill_gaps(AIR)[0]["state"] == "filled", 10), ing.fill_gaps(AIR)
        g = _check_gap(ing, AIR, 2, 7)
        assert g["attempts"] >= 1 and g["missing"] == 0
        assert agent.stats["stations"][AIR].get("fill.requests", 0) >= 1, agent.stats
        text = ing.metrics.text().decode()
        assert 'fenwei_ingest_fill_gaps{state="filled"} 1.0' in text
        assert ing.stats()["fill_gaps"] == {"open": 0, "requested": 0, "filled": 1,
                                            "given_up": 0}
        agent.stop()
        ing.stop()
        # still answerable once stopped (the demo's end summary asks after the stop)
        assert ing.stats()["fill_gaps"] == {"open": 0, "requested": 0, "filled": 1,
                                            "given_up": 0}
    finally:
        agent.stop()
        ing.stop()


def test_sl651_gauge_outage_is_filled_by_period_queries(tmp_path, mosquitto, catalogue,
                                                        influx_url):
    # InfluxDB: stage and discharge of one hour come back in two 38 answers (one element per
    # query), i.e. two readings with the same station, period and time, which InfluxDB merges
    sim = _simulation(HYDRO, "hydro")
    clock = SimClock(T0.timestamp(), SPEED)
    ing = _ingest(mosquitto, catalogue, tmp_path, clock.now_threadsafe, influx_url)
    dev = {"protocol": "sl651", "station": HYDRO, "address": HYDRO_ADDR, "password": "0000"}
    agent = EdgeAgent(_agent_config(tmp_path, dev), mqtt_url=mosquitto.url,
                      catalogue=catalogue, clock=clock.now_threadsafe).start()
    try:
        thread, out = _run(sim, clock, None, f"127.0.0.1:{agent.ports['sl651']}")
        thread.join(60)
        assert not thread.is_alive()
        # A 34 hourly report observes the top of hour h and is sent a few seconds after it:
        # reports due in [T0+3h, T0+9h) are lost, the hours 3..8 (6 hours), between hour 2 and
        # hour 9.
        stats = out["report"].per_device[HYDRO]
        assert stats.backfilled == 0 and stats.lost >= 6, stats
        assert stats.commands["38"] >= 2, stats       # stage and discharge were asked for
        for param in ("stage", "discharge"):
            assert wait_until(lambda: _stored_hours(ing, "hydro", HYDRO, param, "PT0S")
                              == list(range(11)), 20), (param, _stored_hours(
                                  ing, "hydro", HYDRO, param, "PT0S"))
        assert wait_until(lambda: ing.fill_gaps(HYDRO) and
                          ing.fill_gaps(HYDRO)[0]["state"] == "filled", 10), ing.fill_gaps(HYDRO)
        _check_gap(ing, HYDRO, 3, 8)
    finally:
        agent.stop()
        ing.stop()
