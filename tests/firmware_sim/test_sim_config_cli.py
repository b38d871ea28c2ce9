"""Scenario files, the fast encoder against the codec, the CLI and the bench."""
from __future__ import annotations

import asyncio
import json
import threading
from datetime import datetime, timedelta

import numpy as np
import pytest
from typer.testing import CliRunner

from edge.protocols import hj212
from firmware_sim import (Collector, ScenarioError, Simulation, TargetError, load_scenario,
                          parse_duration, parse_scenario, scenario_names, shift_scenario)
from firmware_sim._hj212enc import UploadEncoder
from firmware_sim._link import parse_target
from firmware_sim.bench import run_bench
from firmware_sim.cli import app


def test_packaged_scenarios():
    assert scenario_names() == ["clean-week", "faults", "spring-lowflow", "tampering",
                                "winter-episode"]
    w = load_scenario("winter-episode")
    assert w.start == datetime.fromisoformat("2026-12-10T00:00:00+08:00")
    assert w.duration == timedelta(days=7) and w.physics.episodes
    assert load_scenario("spring-lowflow").start.date().isoformat() == "2027-04-01"
    assert len(load_scenario("faults").faults) >= 15


@pytest.mark.parametrize("doc,match", [
    ({"name": "x"}, "start"),
    ({"name": "x", "start": "2027-01-01", "air": {"bogus": 1}}, "unknown keys"),
    ({"name": "x", "start": "2027-01-01", "faults": [{"kind": "melt", "station": "a"}]},
     "unknown kind"),
    ({"name": "x", "start": "2027-01-01", "hydro": {"reports": ["99"]}}, "SL 651"),
    ({"name": "x", "start": "2027-01-01", "duration": "soon"}, "duration"),
], ids=["no-start", "unknown-key", "unknown-fault", "bad-report", "bad-duration"])
def test_bad_scenarios_are_refused(doc, match):
    with pytest.raises(ScenarioError, match=match):
        parse_scenario(doc)


def test_unknown_scenario_and_target():
    with pytest.raises(ScenarioError, match="known"):
        load_scenario("no-such-thing")
    with pytest.raises(TargetError):
        parse_target("localhost")
    assert parse_target("[::1]:9212") == ("::1", 9212)


def test_durations():
    assert parse_duration("1d12h") == timedelta(hours=36)
    assert parse_duration("90m") == timedelta(minutes=90)


def test_shift_moves_episodes_and_faults():
    sc = load_scenario("faults")
    moved = shift_scenario(sc, sc.start + timedelta(days=30))
    assert moved.faults[0].start - sc.faults[0].start == 30 * 86400
    w = load_scenario("winter-episode")
    sim = Simulation(w, start="2027-01-05T00:00:00+08:00")
    assert sim.scenario.physics.episodes[0].onset.date().isoformat() == "2027-01-05"
    assert sim.city_daily("pm25").max().max() > 250


def test_fast_encoder_matches_the_codec():
    enc = UploadEncoder("1462A", ("pm25", "co", "wind_dir"),
                        {"pm25": "a34004", "co": "a21005", "wind_dir": "a01008"})
    t = datetime(2026, 12, 10, 8, 0, tzinfo=hj212.CST).timestamp()
    ours = hj212.decode_packet(enc.realtime(t, [123.45, 1.2345, 359.6], ["N", "N", "N"]))
    ref = hj212.decode_packet(hj212.encode_upload(
        "2011", "1462A", datetime.fromtimestamp(t, hj212.CST),
        {"a34004": (123.5, "N"), "a21005": (1.234, "N"), "a01008": (360, "N")}))
    assert ours == ref
    rows = {"Min": [1.0, 0.5, 10.0], "Avg": [2.0, 0.75, 20.0], "Max": [3.0, 1.0, 30.0]}
    frame = enc.upload("2061", t, t + 5, rows, ["N", "C", "F"], ack=True)
    p = hj212.decode_packet(frame)
    assert p.ack_requested and p.factors["a21005"].flag == "C"
    assert p.factors["a34004"].values == {"Min": 1.0, "Avg": 2.0, "Max": 3.0}


def _serve_in_thread():
    """A collector on its own loop in a thread (the CLI runs its own asyncio loop)."""
    loop = asyncio.new_event_loop()
    col = Collector()
    ready = threading.Event()

    def main():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(col.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    ready.wait(5)
    return col, loop, thread


def test_cli_run_against_a_listener():
    col, loop, thread = _serve_in_thread()
    try:
        result = CliRunner().invoke(app, [
            "run", "--scenario", "spring-lowflow", "--air-target", col.air_target,
            "--hydro-target", col.hydro_target, "--speed", "inf", "--duration", "3h",
            "--stations", "20", "--seed", "2"])
        assert result.exit_code == 0, result.output
        out = json.loads(result.output)
        assert out["devices"] == 20 and out["frames"]["2061"] == 17 * 3
        assert out["frames"]["rtd"] == 17 * 180
    finally:
        asyncio.run_coroutine_threadsafe(col.stop(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
    assert len({p.mn for p in col.packets}) == 17


def test_cli_refuses_bad_input():
    r = CliRunner().invoke(app, ["run", "--scenario", "nope", "--air-target", "h:1"])
    assert r.exit_code == 2 and "unknown scenario" in r.output
    r = CliRunner().invoke(app, ["run", "--scenario", "faults"])
    assert r.exit_code != 0


def test_bench_generates_realtime_packets_fast():
    result = run_bench(seconds=0.5, stations=200)
    assert result["stations_per_s"] > 2000
    assert 300 < result["bytes_per_frame"] < 1024
