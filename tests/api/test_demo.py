"""The walking-skeleton demo end to end, run as a new user would run it."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

FENWEI = [sys.executable, "-m", "core.cli"]


class _Lines:
    """Every line a process writes, read by a thread of its own (a ``select`` on a text pipe
    misses lines Python has already buffered, and a wait could then never end); each line
    is also appended to ``sink``, the caller's list, as it arrives."""

    def __init__(self, stream, sink: list[str] | None = None) -> None:
        self.lines: list[str] = []
        self.pos = 0                  # where the next search starts
        self._sink = sink
        self._cond = threading.Condition()
        self._done = False
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True,
                                        name="process-output")
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            with self._cond:
                self.lines.append(line)
                if self._sink is not None:
                    self._sink.append(line)
                self._cond.notify_all()
        with self._cond:
            self._done = True
            self._cond.notify_all()

    def until(self, pattern: str, timeout: float) -> re.Match:
        rx, deadline = re.compile(pattern), time.monotonic() + timeout
        with self._cond:
            while True:
                while self.pos < len(self.lines):
                    m = rx.search(self.lines[self.pos])
                    self.pos += 1
                    if m:
                        return m
                left = deadline - time.monotonic()
                if self._done or left <= 0:
                    raise AssertionError(f"no line matching {pattern!r}; output so far:\n"
                                         + "".join(self.lines))
                self._cond.wait(left)

    def rest(self, timeout: float) -> str:
        """Everything, once the stream has ended (or ``timeout`` passed)."""
        self._thread.join(timeout)
        return "".join(self.lines)


def _output(proc, seen: list[str] | None = None) -> _Lines:
    """The process's output reader (started at the first call; ``seen`` gets every line)."""
    out = getattr(proc, "fenwei_output", None)
    if out is None:
        out = proc.fenwei_output = _Lines(proc.stdout, seen)
    return out


def _read_until(proc, pattern: str, timeout: float, seen: list[str]) -> re.Match:
    """The next output line matching ``pattern``; every line read goes on into ``seen``
    (the reader keeps reading, so the process never blocks on a full pipe)."""
    return _output(proc, seen).until(pattern, timeout)


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
        at = len(seen)
        proc.send_signal(signal.SIGINT)
        # bounded: the running rule and job passes finish first (seconds on a quiet machine,
        # tens of seconds on a loaded one)
        proc.wait(timeout=90)
        _output(proc).rest(10)
        assert proc.returncode == 0, "".join(seen)
        assert "stopped:" in "".join(seen[at:])
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
