"""``fenwei bench ingest``: throughput, loss, latency and memory of the ingest service.

Real Mosquitto and InfluxDB (core.localservers); the ingest service in its own process
(``python -m ingest run``); the publisher in another (``python -m ingest._loadgen``).

* run 1: ``n1`` messages of one air reading (11 parameters); run 2: ``n50`` messages of 50.
* readings/s: from the first publish to the last point visible in InfluxDB (polled).
* latency: reading k's publish time against the time InfluxDB's count first reached k
  (the ingest writes roughly in arrival order), so p50/p99 are within the poll interval.
* ceilings in the same run: a bare paho subscriber that only counts run 1's messages, and
  InfluxDB's own write rate for run 2's points in 5,000-line batches.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from core.catalogue import load_catalogue
from core.localservers import InfluxDB, Mosquitto, free_port
from core.store import lines
from core.wire import decode

POLL_S = 0.1


def _py(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *args], **kw)


def _count(influx: InfluxDB, db: str) -> int:
    r = httpx.post(f"{influx.url}/query", data={"q": "SELECT count(pm25) FROM air", "db": db},
                   timeout=30)
    series = r.json()["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


def _publish(mq: Mosquitto, n: int, per: int, times: Path, client_id: str) -> subprocess.Popen:
    return _py("-m", "ingest._loadgen", "--url", mq.url, "--messages", str(n), "--per-msg",
               str(per), "--times", str(times), "--client-id", client_id,
               "--max-inflight", "2000")


def _peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _quantile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def _wait_ingest_ready(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"ingest exited with {proc.returncode}")
        try:
            if "fenwei_ingest_subscribed 1.0" in httpx.get(
                    f"http://127.0.0.1:{port}/metrics", timeout=1).text:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("ingest did not subscribe in time")


def _ingest_run(mq, influx, work: Path, db: str, n: int, per: int, tag: str,
                protocol: str = "3.1.1") -> dict:
    port = free_port()
    log = open(work / f"ingest-{tag}.log", "wb")
    proc = _py("-m", "ingest", "run", "--mqtt-url", mq.url, "--store-url",
               influx.store_url(db), "--state-path", str(work / f"state-{tag}.sqlite"),
               "--client-id", f"bench-ingest-{tag}", "--metrics-port", str(port),
               "--flood-rate", "0", "--mqtt-protocol", protocol, "--log-level", "WARNING",
               stdout=log, stderr=log)
    try:
        _wait_ingest_ready(port, proc)
        times_file = work / f"times-{tag}.json"
        pub = _publish(mq, n, per, times_file, f"bench-pub-{tag}")
        total, curve = n * per, []
        last_change, last = time.monotonic(), -1
        while True:
            c = _count(influx, db)
            curve.append((time.time(), c))
            if c != last:
                last, last_change = c, time.monotonic()
            if c >= total or (time.monotonic() - last_change > 30 and pub.poll() is not None):
                break
            time.sleep(POLL_S)
        pub.wait(60)
        rss = _peak_rss_mb(proc.pid)
        sent = json.loads(times_file.read_text())["times"]
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    stored = curve[-1][1]
    t_visible = next(t for t, c in curve if c >= stored)
    lat, j = [], 0
    for k, t_pub in enumerate(sent):        # message k's last reading is number (k+1)*per
        need = (k + 1) * per
        while j < len(curve) and curve[j][1] < need:
            j += 1
        if j == len(curve):
            break
        lat.append(curve[j][0] - t_pub)
    return {"readings_per_s": stored / max(1e-9, t_visible - sent[0]), "stored": stored,
            "expected": total, "lat": lat, "rss_mb": rss}


def _bare_ceiling(mq: Mosquitto, work: Path, n: int) -> float:
    out = work / "bare.json"
    sub = _py("-c", _BARE, mq.url, str(n), str(out))
    time.sleep(1.0)
    pub = _publish(mq, n, 1, work / "times-bare.json", "bench-pub-bare")
    pub.wait(600)
    sub.wait(120)
    res = json.loads(out.read_text())
    return res["count"] / max(1e-9, res["last"] - res["first"])


_BARE = r"""
import json, sys, time, threading
from urllib.parse import urlsplit
import paho.mqtt.client as mqtt
url, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
p = urlsplit(url); st = {"count": 0, "first": None, "last": None}; done = threading.Event()
def on_message(c, u, m):
    now = time.time()
    if st["first"] is None: st["first"] = now
    st["count"] += 1; st["last"] = now
    if st["count"] >= n: done.set()
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-bare", clean_session=True)
c.on_message = on_message
c.on_connect = lambda c, u, f, rc, pr: c.subscribe("fenwei/v1/+/+/+/readings", qos=1)
c.connect(p.hostname, p.port); c.loop_start(); done.wait(300); c.loop_stop()
json.dump(st, open(out, "w"))
"""


def _influx_ceiling(influx: InfluxDB, n: int, per: int) -> float:
    from ._loadgen import messages
    cat = load_catalogue()
    body = []
    for _, _, topic, payload in messages(cat, n, per):
        body += lines(decode(topic, payload, cat).readings)
    db = "bench_ceiling"
    http = httpx.Client(base_url=influx.url, timeout=60)
    http.post("/query", data={"q": f'CREATE DATABASE "{db}"'})
    t0 = time.perf_counter()
    for i in range(0, len(body), 5000):
        r = http.post("/write", params={"db": db, "precision": "s"},
                      content="\n".join(body[i:i + 5000]).encode())
        r.raise_for_status()
    return len(body) / (time.perf_counter() - t0)


def run_bench(n1: int = 50_000, n50: int = 4_000, seed: int = 0, protocol: str = "3.1.1") -> dict:
    """Run both ingest runs and both ceilings; returns the figures (see module doc)."""
    work = Path(tempfile.mkdtemp(prefix="fenwei-bench-ingest-"))
    mq, influx = Mosquitto(work / "mosquitto"), InfluxDB(work / "influxdb")
    mq.start()
    influx.start()
    try:
        ceiling = _bare_ceiling(mq, work, n1)
        r1 = _ingest_run(mq, influx, work, "bench1", n1, 1, "1", protocol)
        r50 = _ingest_run(mq, influx, work, "bench50", n50, 50, "50", protocol)
        influx_ceiling = _influx_ceiling(influx, n50, 50)
    finally:
        mq.stop()
        influx.stop()
    lat = r1["lat"] + r50["lat"]
    return {
        "readings_per_s_1": round(r1["readings_per_s"]),
        "readings_per_s_50": round(r50["readings_per_s"]),
        "lost": (r1["expected"] - r1["stored"]) + (r50["expected"] - r50["stored"]),
        "p50_s": round(_quantile(lat, 0.5), 3), "p99_s": round(_quantile(lat, 0.99), 3),
        "p50_s_1": round(_quantile(r1["lat"], 0.5), 3),
        "p99_s_1": round(_quantile(r1["lat"], 0.99), 3),
        "p50_s_50": round(_quantile(r50["lat"], 0.5), 3),
        "p99_s_50": round(_quantile(r50["lat"], 0.99), 3),
        "rss_mb": round(max(r1["rss_mb"], r50["rss_mb"]), 1),
        "ceiling_msgs_per_s": round(ceiling),
        "influx_ceiling_points_per_s": round(influx_ceiling),
        "ratio_1_vs_bare": round(r1["readings_per_s"] / ceiling, 3),
        "ratio_50_vs_influx": round(r50["readings_per_s"] / influx_ceiling, 3),
        "messages_1": n1, "messages_50": n50, "mqtt_protocol": protocol,
        "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    args = sys.argv[1:]
    print(json.dumps(run_bench(*(int(a) for a in args[:2]), protocol=(args[2:] or ["3.1.1"])[0]),
                     indent=2))
