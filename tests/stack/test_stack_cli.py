"""``fenwei stack up`` refuses what it cannot run, with a clear message; each service's run
command serves /health, /ready and /metrics (the aqi service here: it needs only a store)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

from core.localservers import free_port

FENWEI = [sys.executable, "-m", "core.cli"]


def _run(*args, env=None, timeout=60):
    return subprocess.run([*FENWEI, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("args, needle", [
    (["--store-url", "duckdb:///tmp/x.duckdb"], "one process's store"),
    (["--store-url", "influxdb://127.0.0.1:1/x", "--scenario", "no-such"], "unknown scenario"),
    (["--store-url", "influxdb://127.0.0.1:1/x", "--speed", "0"], "--speed must be positive"),
    (["--store-url", "ftp://x"], "FENWEI_STORE_URL"),
])
def test_stack_up_refuses_with_a_clear_message(args, needle):
    r = _run("stack", "up", *args)
    assert r.returncode == 2 and needle in r.stderr, (r.stdout, r.stderr)


def test_stack_up_names_an_unknown_key_of_its_settings_file(tmp_path):
    cfg = tmp_path / "fenwei.toml"
    cfg.write_text('[fenwei]\nstore_url = "influxdb://127.0.0.1:1/x"\n[stack]\nhj212_prot = 1\n')
    r = _run("stack", "up", "--config", str(cfg))
    assert r.returncode == 2 and "hj212_prot" in r.stderr, r.stderr


def test_a_service_process_serves_health_ready_metrics_and_drains_on_sigterm(tmp_path):
    port = free_port()
    env = {**os.environ, "FENWEI_HEALTH_PORT": str(port),
           "FENWEI_STORE_URL": f"duckdb:///{tmp_path}/s.duckdb", "FENWEI_CLOCK_MODE": "wall"}
    proc = subprocess.Popen([*FENWEI, "aqi", "run", "--every", "1h"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        assert re.match(rf"^Health: http://127\.0\.0\.1:{port}$", line.strip()), line
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            h = httpx.get(f"{base}/health", timeout=5).json()
            if h["runs"] >= 1:
                break
            time.sleep(0.2)
        assert h["service"] == "aqi" and h["runs"] >= 1 and h["failures"] == 0, h
        assert httpx.get(f"{base}/ready", timeout=5).status_code == 200
        assert "python_info" in httpx.get(f"{base}/metrics", timeout=5).text
        proc.send_signal(signal.SIGUSR1)          # one final pass, counted
        deadline = time.monotonic() + 30
        while httpx.get(f"{base}/health", timeout=5).json()["finals"] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
