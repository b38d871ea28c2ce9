"""The walking-skeleton demo end to end, run as a new user would run it."""
from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

FENWEI = [sys.executable, "-m", "core.cli"]


def _read_until(proc, pattern: str, timeout: float, seen: list[str]) -> re.Match:
    deadline = time.monotonic() + timeout
    rx = re.compile(pattern)
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            m = rx.search(line)
            if m:
                return m
    raise AssertionError(f"no line matching {pattern!r}; output so far:\n{''.join(seen)}")


def _start(tmp_path: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*FENWEI, "demo", "--api-port", "0", "--mqtt-port", "0", "--data-dir",
         str(tmp_path / "demo"), *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, cwd=tmp_path, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_demo_serves_stored_readings_and_stops_cleanly(tmp_path):
    proc = _start(tmp_path, "--scenario", "generator", "--stations", "6", "--speed", "36000",
                  "--seed", "3")
    seen: list[str] = []
    try:
        mqtt = _read_until(proc, r"^MQTT: (mqtt://\S+)", 60, seen)
        api = _read_until(proc, r"^API: (http://\S+)", 60, seen).group(1)
        assert mqtt.group(1).startswith("mqtt://127.0.0.1:")
        keys = json.loads(Path(_read_until(proc, r"^Keys: (\S+)", 30, seen).group(1)).read_text())
        assert set(keys) == {"station", "inspector", "city-team", "bureau", "admin"}
        auth = {"Authorization": f"Bearer {keys['inspector']}"}
        assert httpx.get(f"{api}/stations").status_code == 401
        stations = httpx.get(f"{api}/stations", headers=auth).json()
        assert {s["id"] for s in stations} >= {"1462A", "huaxian"}
        rows = []
        deadline = time.monotonic() + 60
        while not rows and time.monotonic() < deadline:
            body = httpx.get(f"{api}/stations/1462A/series",
                             params={"params": "pm25,pm10", "start": "2024-01-01T00:00:00Z",
                                     "end": "2030-01-01T00:00:00Z"}, headers=auth).json()
            rows = body["rows"]
            time.sleep(0.2)
        assert rows, "no stored readings served"
        assert rows[0]["pm25"] > 0 and rows[0]["pm25_flag"] == "N"
        assert rows[0]["time"].endswith("+08:00")
        _read_until(proc, r"received .* msg/s \| stored", 30, seen)
        proc.send_signal(signal.SIGINT)
        # bounded: the running rule and job passes finish first (seconds on a quiet machine,
        # tens of seconds on a loaded one)
        out, _ = proc.communicate(timeout=90)
        assert proc.returncode == 0, "".join(seen) + out
        assert "stopped:" in out
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (tmp_path / "demo" / "fenwei.duckdb").exists()


def test_demo_with_duration_stops_by_itself_after_storing_everything(tmp_path):
    proc = _start(tmp_path, "--scenario", "generator", "--stations", "4", "--speed", "360000",
                  "--duration", "1d")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert "simulated period delivered and stored" in out
    m = re.search(r"stopped: (\d+) readings published, (\d+) stored", out)
    assert m and int(m.group(1)) == int(m.group(2)) == 4 * 24


def test_demo_scenario_chain_delivers_everything_through_edge_and_ingest(tmp_path):
    """simulator -> edge agents -> MQTT -> ingest -> store, stopping by itself.

    (Persistence forecasts: the model's training is exercised by the end-to-end tests.)"""
    proc = _start(tmp_path, "--scenario", "spring-lowflow", "--stations", "30", "--speed",
                  "36000", "--duration", "1d", "--seed", "2", "--no-forecast-model")
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 0, out
    assert "simulated period delivered and stored" in out
    m = re.search(r"stopped: (\d+) readings published, (\d+) stored", out)
    assert m and int(m.group(1)) > 0 and int(m.group(2)) >= int(m.group(1))
    import duckdb
    db = duckdb.connect(str(tmp_path / "demo" / "fenwei.duckdb"), read_only=True)
    n_air, n_hydro = (db.execute(f"SELECT count(*) FROM {k}").fetchone()[0]
                      for k in ("air", "hydro"))
    assert n_air > 0 and n_hydro > 0


def test_demo_rejects_bad_options(tmp_path):
    proc = _start(tmp_path, "--scenario", "no-such-scenario")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "unknown scenario" in out


def test_demo_rejects_bad_duration(tmp_path):
    proc = _start(tmp_path, "--duration", "seven days")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "--duration" in out
