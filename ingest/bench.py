"""``fenwei bench ingest``: throughput, loss, latency and memory of the ingest service.

Real Mosquitto and InfluxDB (core.localservers); the ingest service in its own process
(``python -m ingest run``); the publishers in others: ``N_PUBLISHERS`` ``mosquitto_pub -l
-q 1`` processes (C, Debian mosquitto-clients), one station each, fed one message per line
through 4 KiB pipes, so the publisher is not what limits the figures.

* run 1: ``n1`` messages of one air reading (11 parameters); run 2: ``n50`` messages of 50.
* readings/s: from the first publish to the last point visible in InfluxDB.
* latency: a message's publish time is when its chunk of lines entered the publisher's pipe
  (at most ~8 KiB of lines are queued ahead of it); it is stored when the ingest's
  ``readings_stored_total`` (counted after InfluxDB accepted the write; polled every 50 ms)
  reaches its rank among all published readings (the ingest writes in arrival order).
  Once all are counted, InfluxDB's own count confirms them visible.
* ceilings in the same run, with the same publishers: a bare paho subscriber (QoS 1) that
  only counts run 1's messages (first publish to last message received), and InfluxDB's own
  write rate for run 2's points in 5,000-line batches.
"""
from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import httpx

from core.catalogue import load_catalogue
from core.localservers import InfluxDB, Mosquitto, _which, free_port
from core.procstat import peak_rss_mb
from core.store import lines
from core.wire import decode

POLL_S = 0.05
N_PUBLISHERS = 13
PIPE_BYTES = 4096
BASE = datetime(2020, 1, 1, tzinfo=timezone.utc)   # 50/msg x 13 stations spans years
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


def _py(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *args], **kw)


def _count(influx: InfluxDB, db: str) -> int:
    r = httpx.post(f"{influx.url}/query", data={"q": "SELECT count(pm25) FROM air", "db": db},
                   timeout=30)
    series = r.json()["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


def _streams(n: int, per: int) -> list[tuple[str, list[bytes]]]:
    """Run's messages as (topic, payloads in seq order), one stream per station."""
    from ._loadgen import messages
    by: dict[str, list[bytes]] = defaultdict(list)
    for _, _, topic, payload in messages(load_catalogue(), n, per, n_stations=N_PUBLISHERS,
                                         base=BASE):
        assert b"\n" not in payload
        by[topic].append(payload)
    return list(by.items())


class _Publishers:
    """One ``mosquitto_pub -l -q 1`` per stream; ``run()`` feeds them, returns publish times."""

    def __init__(self, mq: Mosquitto, streams: list[tuple[str, list[bytes]]], tag: str) -> None:
        self.streams, self.procs = streams, []
        exe = _which("mosquitto_pub")
        for j, (topic, _) in enumerate(streams):
            p = subprocess.Popen([exe, "-h", "127.0.0.1", "-p", str(mq.port), "-t", topic,
                                  "-l", "-q", "1", "-M", "1000", "-i", f"bench-pub-{tag}-{j}",
                                  "--quiet"], stdin=subprocess.PIPE,
                                 stdout=subprocess.DEVNULL, bufsize=0)
            try:
                fcntl.fcntl(p.stdin.fileno(), _F_SETPIPE_SZ, PIPE_BYTES)
            except OSError:
                pass
            self.procs.append(p)
        time.sleep(0.5)                                  # let them connect

    def run(self) -> list[float]:
        times: list[list[float]] = [[] for _ in self.procs]

        def feed(j: int) -> None:
            fd, out = self.procs[j].stdin.fileno(), times[j]
            chunk: list[bytes] = []
            size = 0

            def flush() -> None:
                data = memoryview(b"".join(chunk))
                while data:
                    data = data[os.write(fd, data):]
                t = time.time()
                out.extend([t] * len(chunk))

            for payload in self.streams[j][1]:
                if chunk and size + len(payload) + 1 > PIPE_BYTES:
                    flush()
                    chunk, size = [], 0
                chunk.append(payload + b"\n")
                size += len(payload) + 1
            if chunk:
                flush()
            self.procs[j].stdin.close()

        threads = [threading.Thread(target=feed, args=(j,)) for j in range(len(self.procs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return sorted(t for ts in times for t in ts)

    def wait(self, timeout: float = 120) -> None:
        for p in self.procs:
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()


def _stored_metric(port: int) -> int | None:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return None
    for line in text.splitlines():
        if line.startswith("fenwei_ingest_readings_stored_total "):
            return int(float(line.split()[1]))
    return None



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
    streams = _streams(n, per)
    port = free_port()
    log = open(work / f"ingest-{tag}.log", "wb")
    proc = _py("-m", "ingest", "run", "--mqtt-url", mq.url, "--store-url",
               influx.store_url(db), "--state-path", str(work / f"state-{tag}.sqlite"),
               "--client-id", f"bench-ingest-{tag}", "--metrics-port", str(port),
               "--flood-rate", "0", "--mqtt-protocol", protocol, "--log-level", "WARNING",
               stdout=log, stderr=log)
    try:
        _wait_ingest_ready(port, proc)
        pubs = _Publishers(mq, streams, tag)
        curve: list[tuple[float, int]] = []
        sent: list[float] = []
        feeder = threading.Thread(target=lambda: sent.extend(pubs.run()))
        feeder.start()
        total = n * per
        last_change, last = time.monotonic(), -1
        while True:
            c = _stored_metric(port)
            if c is not None:
                curve.append((time.time(), c))
                if c != last:
                    last, last_change = c, time.monotonic()
                if c >= total:
                    break
            if time.monotonic() - last_change > 30 and not feeder.is_alive():
                break
            time.sleep(POLL_S)
        feeder.join()
        pubs.wait()
        deadline = time.monotonic() + 30
        while True:                          # the last point visible in InfluxDB
            stored = _count(influx, db)
            t_visible = time.time()
            if stored >= last or time.monotonic() > deadline:
                break
            time.sleep(POLL_S)
        rss = peak_rss_mb(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    lat, j = [], 0
    for k, t_pub in enumerate(sent):        # the k-th published message's last reading
        need = (k + 1) * per
        while j < len(curve) and curve[j][1] < need:
            j += 1
        if j == len(curve):
            break
        lat.append(curve[j][0] - t_pub)
    return {"readings_per_s": stored / max(1e-9, t_visible - sent[0]), "stored": stored,
            "expected": total, "lat": lat, "rss_mb": rss}


def _bare_ceiling(mq: Mosquitto, work: Path, n: int) -> float:
    out, ready = work / "bare.json", work / "bare.ready"
    ready.unlink(missing_ok=True)
    pubs = _Publishers(mq, _streams(n, 1), "bare")
    sub = _py("-c", _BARE, mq.url, str(n), str(out), str(ready))
    deadline = time.monotonic() + 30
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    sent = pubs.run()
    pubs.wait()
    sub.wait(120)
    res = json.loads(out.read_text())
    return res["count"] / max(1e-9, res["last"] - sent[0])


_BARE = r"""
import json, sys, time, threading
from pathlib import Path
from urllib.parse import urlsplit
import paho.mqtt.client as mqtt
url, n, out, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
p = urlsplit(url); st = {"count": 0, "first": None, "last": None}; done = threading.Event()
def on_message(c, u, m):
    now = time.time()
    if st["first"] is None: st["first"] = now
    st["count"] += 1; st["last"] = now
    if st["count"] >= n: done.set()
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-bare", clean_session=True)
c.on_message = on_message
c.on_connect = lambda c, u, f, rc, pr: c.subscribe("fenwei/v1/+/+/+/readings", qos=1)
c.on_subscribe = lambda *a: Path(ready).touch()
c.connect(p.hostname, p.port); c.loop_start(); done.wait(300); c.loop_stop()
json.dump(st, open(out, "w"))
"""


def _influx_ceiling(influx: InfluxDB, n: int, per: int) -> float:
    cat = load_catalogue()
    body = []
    for topic, payloads in _streams(n, per):
        for payload in payloads:
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
        "publishers": f"{N_PUBLISHERS} x mosquitto_pub -l -q 1",
        "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    args = sys.argv[1:]
    print(json.dumps(run_bench(*(int(a) for a in args[:2]), protocol=(args[2:] or ["3.1.1"])[0]),
                     indent=2))
