"""kill -9 the agent mid-stream and restart it: every reading a device got an ack for arrives."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta

import pytest

from core.localservers import free_port, wait_port

from .conftest import AIR, CST, Feeder

pytestmark = pytest.mark.services
MNS = ("MN0000000000000000000001", "MN0000000000000000000002")


def _config(tmp_path, port: int) -> str:
    path = tmp_path / "edge.toml"
    path.write_text(f"""
[edge]
agent_id = "crash"
data_dir = "{tmp_path / 'data'}"
[edge.hj212]
host = "127.0.0.1"
port = {port}
[edge.sl651]
host = "127.0.0.1"
port = 0
[edge.mqtt]
backoff_initial_s = 0.2
backoff_max_s = 1.0
status_interval_s = 1.0
[[edge.devices]]
protocol = "hj212"
station = "{AIR[0]}"
mn = "{MNS[0]}"
password = "123456"
[[edge.devices]]
protocol = "hj212"
station = "{AIR[1]}"
mn = "{MNS[1]}"
password = "123456"
""")
    return str(path)


def _spawn(config: str, url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "FENWEI_MQTT_URL": url}
    proc = subprocess.Popen([sys.executable, "-m", "core.cli", "edge", "run", "--config", config],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, 20, proc)
    return proc


def test_kill_9_loses_nothing_acknowledged(tmp_path, mosquitto, subscriber):
    port = free_port()
    config = _config(tmp_path, port)
    proc = _spawn(config, mosquitto.url, port)
    base = datetime.now(CST).replace(second=0, microsecond=0) - timedelta(days=1)
    feeders = [Feeder(port, mn, base, pause=0.01) for mn in MNS]
    try:
        for f in feeders:
            f.start()
        for _ in range(2):  # two crashes, each mid-stream
            time.sleep(2.5)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            time.sleep(0.5)
            proc = _spawn(config, mosquitto.url, port)
        time.sleep(2)
        for f in feeders:
            f.stop()
        for st, f in zip(AIR, feeders):
            acked = {t.astimezone(CST) for t in f.acked}
            assert len(acked) > 20
            assert subscriber.wait(
                lambda: acked <= {r.ts.astimezone(CST) for r in subscriber.readings(st)}, 30), \
                len(acked - {r.ts.astimezone(CST) for r in subscriber.readings(st)})
            first_seen = list(dict.fromkeys(r.ts for r in subscriber.readings(st)))
            assert first_seen == sorted(first_seen)
        assert subscriber.rejected == []
    finally:
        for f in feeders:
            f.stop_flag.set()
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
