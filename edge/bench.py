"""``fenwei bench edge``: replay of a week-long back-log once the broker returns.

A week of 1-minute readings from several air stations and 5-minute readings from a gauge is
put in the agent's queue (through the agent's own QC, as if the devices had fed it while the
network was down); then a real agent process starts against a real Mosquitto and a subscriber
counts the readings as they arrive. Reports the replay rate and the agent's peak RSS (VmHWM).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from core.procstat import peak_rss_mb

AIR_STATIONS = ("1462A", "1463A", "1464A", "1465A", "1466A")
HYDRO_STATION = "lintong"


def _fill(queue_path: Path, days: int, seed: int) -> int:
    import random

    from core.catalogue import load_catalogue
    from edge.agent._config import QcConfig
    from edge.agent._qc import QualityControl, RawReading
    from edge.agent._queue import DurableQueue
    from edge.agent._stats import Stats

    rnd = random.Random(seed)
    end = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    start = end - timedelta(days=days)
    qc = QualityControl(load_catalogue(), QcConfig(), Stats(), clock=time.time)
    q = DurableQueue(queue_path)
    total = 0
    series = [(st, 60, "PT1M") for st in AIR_STATIONS] + [(HYDRO_STATION, 300, "PT0S")]
    for station, step, period in series:
        rows, n = [], days * 86400 // step
        for i in range(n):
            ts = start + timedelta(seconds=i * step)
            if station == HYDRO_STATION:
                values = {"stage": round(351 + rnd.random(), 3), "discharge": 100 + rnd.random()}
            else:
                values = {"pm25": 40 + rnd.random() * 60, "pm10": 80 + rnd.random() * 90,
                          "so2": 8 + rnd.random() * 5, "no2": 30 + rnd.random() * 20,
                          "o3": 50 + rnd.random() * 40, "co": 0.8 + rnd.random(),
                          "temp": 5 + rnd.random(), "rh": 60 + rnd.random() * 9,
                          "pressure": 97 + rnd.random(), "wind_speed": rnd.random() * 4,
                          "wind_dir": rnd.random() * 359}
            c = qc.check(RawReading(station, ts, period, values, sent=end))
            rows.append((c.station, c.ts, c.period, json.dumps(c.body, separators=(",", ":"))))
            if len(rows) >= 5000:
                total += q.put(rows).stored
                rows = []
        total += q.put(rows).stored
    q.close()
    return total


class _Counter:
    def __init__(self, port: int) -> None:
        import paho.mqtt.client as mqtt
        self.count, self.first, self.last = 0, None, None
        self.done = threading.Event()
        self.target = 0
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-sub")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe("fenwei/v1/+/+/+/readings", qos=1)
        self.client.loop_start()

    def _on_message(self, client, userdata, msg) -> None:
        now = time.perf_counter()
        self.first = self.first or now
        self.count += len(json.loads(msg.payload)["readings"])
        self.last = now
        if self.target and self.count >= self.target:
            self.done.set()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()



def run_bench(seed: int = 0, days: int = 7) -> dict:
    from core.localservers import Mosquitto, free_port, wait_port

    work = Path(tempfile.mkdtemp(prefix="fenwei-edge-bench-"))
    t = time.perf_counter()
    total = _fill(work / "data" / "queue.sqlite", days, seed)
    fill_s = time.perf_counter() - t
    port = free_port()
    devices = "".join(f'[[edge.devices]]\nprotocol = "hj212"\nstation = "{s}"\nmn = "{s}"\n'
                      for s in AIR_STATIONS)
    devices += (f'[[edge.devices]]\nprotocol = "sl651"\nstation = "{HYDRO_STATION}"\n'
                'address = "0041103300"\n')
    (work / "edge.toml").write_text(
        f'[edge]\nagent_id = "bench"\ndata_dir = "{work / "data"}"\n'
        f'[edge.queue]\npath = "queue.sqlite"\n'
        f'[edge.hj212]\nhost = "127.0.0.1"\nport = {port}\n'
        f'[edge.sl651]\nhost = "127.0.0.1"\nport = 0\n{devices}')
    with Mosquitto(work / "mosquitto") as broker:
        counter = _Counter(broker.port)
        counter.target = total
        env = {**os.environ, "FENWEI_MQTT_URL": broker.url, "FENWEI_LOG_LEVEL": "WARNING"}
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "core.cli", "edge", "run", "--config",
                                 str(work / "edge.toml")], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(port, 30, proc)
            finished = counter.done.wait(300)
            elapsed = time.perf_counter() - t0
            rss = peak_rss_mb(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
            counter.close()
    replay_s = (counter.last or t0) - (counter.first or t0)
    return {
        "readings_backlog": total,
        "days_offline": days,
        "stations": len(AIR_STATIONS) + 1,
        "replay_readings_per_s": round(counter.count / replay_s) if replay_s > 0 else None,
        "replay_s": round(replay_s, 2),
        "start_to_done_s": round(elapsed, 2),
        "complete": finished and counter.count >= total,
        "rss_mb": round(rss, 1),
        "fill_s": round(fill_s, 1),
    }


if __name__ == "__main__":
    print(json.dumps(run_bench()))
