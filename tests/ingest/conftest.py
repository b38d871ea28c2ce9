"""Helpers for the ingest tests: the service as a subprocess, InfluxDB counts, publishing."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from core.localservers import free_port
from ingest._loadgen import Publisher, messages


class IngestProcess:
    """``fenwei ingest run`` (python -m core.cli) with a metrics port; ``metric(name)`` reads it."""

    def __init__(self, mqtt_url: str, store_url: str, state: Path, *args: str,
                 client_id: str = "t-ingest") -> None:
        self.port = free_port()
        self.log = state.with_suffix(f".{client_id}.log")
        self.argv = [sys.executable, "-m", "core.cli", "ingest", "run", "--mqtt-url", mqtt_url,
                     "--store-url", store_url, "--state-path", str(state), "--client-id",
                     client_id, "--metrics-port", str(self.port), *args]
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> "IngestProcess":
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while self.metric("fenwei_ingest_subscribed") != 1.0:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            assert time.monotonic() < deadline, "ingest did not subscribe"
            time.sleep(0.1)
        return self

    def metrics_text(self) -> str:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=2).text
        except httpx.HTTPError:
            return ""

    def metric(self, name: str) -> float | None:
        for line in self.metrics_text().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)


def influx_count(store_url: str, what: str = "count(pm25)", group: str = "") -> dict | int:
    host, db = store_url.split("://", 1)[1].split("/", 1)
    r = httpx.post(f"http://{host}/query", timeout=30,
                   data={"q": f"SELECT {what} FROM air {group}", "db": db})
    series = r.json()["results"][0].get("series") or []
    if group:
        return {s["tags"]["station"]: int(s["values"][0][1]) for s in series}
    return int(series[0]["values"][0][1]) if series else 0


def wait_count(store_url: str, expected: int, timeout: float = 60, step: float = 0.2) -> int:
    deadline = time.monotonic() + timeout
    n = influx_count(store_url)
    while n < expected and time.monotonic() < deadline:
        time.sleep(step)
        n = influx_count(store_url)
    return n


@pytest.fixture
def ingest_process(tmp_path):
    started: list[IngestProcess] = []

    def make(mqtt_url, store_url, *args, client_id="t-ingest", state=None):
        p = IngestProcess(mqtt_url, store_url, state or tmp_path / "state.sqlite", *args,
                          client_id=client_id)
        started.append(p)
        return p
    yield make
    for p in started:
        if p.proc is not None and p.proc.poll() is None:
            p.proc.kill()
            p.proc.wait(10)


__all__ = ["IngestProcess", "Publisher", "influx_count", "messages", "wait_count"]


def wait_until(cond, timeout: float, step: float = 0.05) -> bool:
    """Poll ``cond`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


# -- fenwei import (tests/ingest/test_import_*.py) -----------------------------------------
BEIJING = Path(__file__).resolve().parents[2] / "docs" / "examples" / "catalogue-beijing"


@pytest.fixture
def beijing(monkeypatch):
    """The packaged catalogue plus docs/examples/catalogue-beijing (as --catalogue-extra)."""
    from core.catalogue import EXTRA_ENV, load_catalogue
    monkeypatch.setenv(EXTRA_ENV, str(BEIJING))
    return load_catalogue()


def run_cli(*args: str) -> dict:
    """``fenwei import ...`` in-process; its summary (the last line, JSON)."""
    import json
    from typer.testing import CliRunner
    from ingest.importer.cli import app
    res = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return json.loads(res.output.strip().splitlines()[-1])
