"""``fenwei bench ingest``: throughput, loss, latency and memory of the ingest service.

Real Mosquitto and InfluxDB (core.localservers); the ingest service in its own process
(``fenwei ingest run``); the publishers in others: ``N_PUBLISHERS`` ``mosquitto_pub -l
-q 1`` processes (C, Debian mosquitto-clients), one station each, fed one message per line
through 4 KiB pipes, so the publisher is not what limits the figures.

* run 1: ``n1`` messages of one air reading (11 parameters); run 2: ``n50`` messages of 50;
  run 3: run 1's messages again, taken by two ingest processes on one shared subscription
  (``$share/...``).
* CPU: user + system seconds of the ingest process(es) from the first publish to the last
  reading counted stored, per stored reading (``cpu_us_per_reading_*``): unlike rates, this
  hardly depends on what else the shared machine runs.
* readings/s: from the first publish to the moment InfluxDB accepted the write of the last
  reading (the process's ``fenwei_ingest_last_write_timestamp_seconds``, read once all are
  counted, like the bare subscriber's time of its last message); InfluxDB's own count then
  confirms every reading visible (``lost``).
* latency: a message's publish time is when its chunk of lines entered the publisher's pipe
  (at most ~8 KiB of lines are queued ahead of it); it is stored when the ingest's
  ``readings_stored_total`` (counted after InfluxDB accepted the write; polled every 100 ms)
  reaches its rank among all published readings (the ingest writes in arrival order).
  Once all are counted, InfluxDB's own count confirms them visible.
* ceilings in the same run, with the same publishers: a bare paho subscriber (QoS 1) that
  only counts run 1's messages (first publish to last message received), and InfluxDB's own
  write rate for run 2's points as a fast writer writes them: two concurrent keep-alive
  connections posting 5,000-line batches.
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
from core.localservers import InfluxDB, Mosquitto, which, free_port
from core.procstat import peak_rss_mb
from core.store import lines
from core.wire import decode

POLL_S = 0.1   # each /metrics scrape costs the ingest ~1 ms of CPU
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
        exe = which("mosquitto_pub")
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


def _metric(port: int, name: str) -> float | None:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2,  # no gzip to pay
                         headers={"Accept-Encoding": "identity"}).text
    except httpx.HTTPError:
        return None
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def _stored_metric(port: int) -> int | None:
    v = _metric(port, "fenwei_ingest_readings_stored_total")
    return None if v is None else int(v)


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


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds process ``pid`` has used (/proc/<pid>/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start_ingest(mq, influx, work: Path, db: str, tag: str, protocol: str,
                  share: str | None) -> tuple[subprocess.Popen, int, object]:
    port = free_port()
    log = open(work / f"ingest-{tag}.log", "wb")
    args = ["-m", "core.cli", "ingest", "run", "--mqtt-url", mq.url, "--store-url",
            influx.store_url(db), "--state-path", str(work / f"state-{tag}.sqlite"),
            "--client-id", f"bench-ingest-{tag}", "--metrics-port", str(port),
            "--flood-rate", "0", "--mqtt-protocol", protocol, "--log-level", "WARNING"]
    if share:
        args += ["--share-group", share]
    return _py(*args, stdout=log, stderr=log), port, log


def _ingest_run(mq, influx, work: Path, db: str, n: int, per: int, tag: str,
                protocol: str = "3.1.1", processes: int = 1) -> dict:
    """One run: ``processes`` ingest processes (two or more share one subscription)."""
    streams = _streams(n, per)
    share = f"bench{tag}" if processes > 1 else None
    procs = [_start_ingest(mq, influx, work, db, f"{tag}-{i}" if processes > 1 else tag,
                           protocol, share) for i in range(processes)]
    try:
        for proc, port, _ in procs:
            _wait_ingest_ready(port, proc)
        pubs = _Publishers(mq, streams, tag)
        cpu0 = sum(_cpu_s(p.pid) for p, _, _ in procs)
        curve: list[tuple[float, int]] = []
        sent: list[float] = []
        feeder = threading.Thread(target=lambda: sent.extend(pubs.run()))
        feeder.start()
        total = n * per
        last_change, last = time.monotonic(), -1
        while True:
            counts = [_stored_metric(port) for _, port, _ in procs]
            if None not in counts:
                c = sum(counts)
                curve.append((time.time(), c))
                if c != last:
                    last, last_change = c, time.monotonic()
                if c >= total:
                    break
            if time.monotonic() - last_change > 30 and not feeder.is_alive():
                break
            time.sleep(POLL_S)
        cpu_s = sum(_cpu_s(p.pid) for p, _, _ in procs) - cpu0
        # when InfluxDB accepted the last batch (the process's own clock, like the bare
        # subscriber's last message): polling adds up to POLL_S to one side only
        t_last = max((_metric(port, "fenwei_ingest_last_write_timestamp_seconds") or 0.0)
                     for _, port, _ in procs)
        feeder.join()
        pubs.wait()
        deadline = time.monotonic() + 30
        while True:                          # the last point visible in InfluxDB
            stored = _count(influx, db)
            t_visible = time.time()
            if stored >= last or time.monotonic() > deadline:
                break
            time.sleep(POLL_S)
        rss = max(peak_rss_mb(p.pid) for p, _, _ in procs)
    finally:
        for proc, _, log in procs:
            proc.terminate()
        for proc, _, log in procs:
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
    t_end = t_last if t_last > 0 and stored >= last else t_visible
    return {"readings_per_s": stored / max(1e-9, t_end - sent[0]), "stored": stored,
            "expected": total, "lat": lat, "rss_mb": rss,
            "cpu_us_per_reading": 1e6 * cpu_s / max(1, last)}


def _bare_ceiling(mq: Mosquitto, work: Path, n: int) -> tuple[float, float]:
    """(msg/s, CPU us per message) of a bare paho subscriber that only counts."""
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
    cpu_us = 1e6 * (res["cpu1"] - res["cpu0"]) / max(1, res["count"] - 1)
    return res["count"] / max(1e-9, res["last"] - sent[0]), cpu_us


_BARE = r"""
import json, sys, time, threading
from pathlib import Path
from urllib.parse import urlsplit
import paho.mqtt.client as mqtt
url, n, out, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
p = urlsplit(url); st = {"count": 0, "first": None, "last": None}; done = threading.Event()
def on_message(c, u, m):
    now = time.time()
    if st["first"] is None: st["first"] = now; st["cpu0"] = time.process_time()
    st["count"] += 1; st["last"] = now; st["cpu1"] = time.process_time()
    if st["count"] >= n: done.set()
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-bare", clean_session=True)
c.on_message = on_message
c.on_connect = lambda c, u, f, rc, pr: c.subscribe("fenwei/v1/+/+/+/readings", qos=1)
c.on_subscribe = lambda *a: Path(ready).touch()
c.connect(p.hostname, p.port); c.loop_start(); done.wait(300); c.loop_stop()
json.dump(st, open(out, "w"))
"""


def _influx_ceiling(influx: InfluxDB, n: int, per: int, writers: int = 2) -> float:
    """InfluxDB's write rate for run 2's points as a fast writer writes them: ``writers``
    concurrent keep-alive connections, each posting 5,000-line batches (bodies built
    before the clock starts)."""
    cat = load_catalogue()
    body = []
    for topic, payloads in _streams(n, per):
        for payload in payloads:
            body += lines(decode(topic, payload, cat).readings)
    db = "bench_ceiling"
    httpx.post(f"{influx.url}/query", data={"q": f'CREATE DATABASE "{db}"'}, timeout=30)
    batches = ["\n".join(body[i:i + 5000]).encode() for i in range(0, len(body), 5000)]

    def write(part: list[bytes]) -> None:
        with httpx.Client(base_url=influx.url, timeout=60) as http:
            for data in part:
                http.post("/write", params={"db": db, "precision": "s"},
                          content=data).raise_for_status()

    threads = [threading.Thread(target=write, args=(batches[i::writers],))
               for i in range(writers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(body) / (time.perf_counter() - t0)


def run_bench(n1: int = 50_000, n50: int = 4_000, seed: int = 0, protocol: str = "3.1.1") -> dict:
    """Run both ingest runs and both ceilings; returns the figures (see module doc)."""
    work = Path(tempfile.mkdtemp(prefix="fenwei-bench-ingest-"))
    mq, influx = Mosquitto(work / "mosquitto"), InfluxDB(work / "influxdb")
    mq.start()
    influx.start()
    load0 = os.getloadavg()
    try:
        ceiling, bare_cpu = _bare_ceiling(mq, work, n1)
        r1 = _ingest_run(mq, influx, work, "bench1", n1, 1, "1", protocol)
        r50 = _ingest_run(mq, influx, work, "bench50", n50, 50, "50", protocol)
        influx_ceiling = _influx_ceiling(influx, n50, 50)
        r2 = _ingest_run(mq, influx, work, "benchshare", n1, 1, "share", protocol, processes=2)
        load = os.getloadavg()
    finally:
        mq.stop()
        influx.stop()
    lat = r1["lat"] + r50["lat"]
    return {
        "readings_per_s_1": round(r1["readings_per_s"]),
        "readings_per_s_50": round(r50["readings_per_s"]),
        "readings_per_s_share2": round(r2["readings_per_s"]),
        "lost": sum(r["expected"] - r["stored"] for r in (r1, r50, r2)),
        "lost_share2": r2["expected"] - r2["stored"],
        "cpu_us_per_reading_1": round(r1["cpu_us_per_reading"], 2),
        "cpu_us_per_reading_50": round(r50["cpu_us_per_reading"], 2),
        "p50_s": round(_quantile(lat, 0.5), 3), "p99_s": round(_quantile(lat, 0.99), 3),
        "p50_s_1": round(_quantile(r1["lat"], 0.5), 3),
        "p99_s_1": round(_quantile(r1["lat"], 0.99), 3),
        "p50_s_50": round(_quantile(r50["lat"], 0.5), 3),
        "p99_s_50": round(_quantile(r50["lat"], 0.99), 3),
        "rss_mb": round(max(r1["rss_mb"], r50["rss_mb"], r2["rss_mb"]), 1),
        "rss_mb_1_50_share2": [round(r["rss_mb"], 1) for r in (r1, r50, r2)],
        "ceiling_msgs_per_s": round(ceiling),
        "ceiling_cpu_us_per_msg": round(bare_cpu, 2),
        "influx_ceiling_points_per_s": round(influx_ceiling),
        "ratio_1_vs_bare": round(r1["readings_per_s"] / ceiling, 3),
        "ratio_50_vs_influx": round(r50["readings_per_s"] / influx_ceiling, 3),
        "ratio_50": round(r50["readings_per_s"] / influx_ceiling, 3),
        "ratio_share2_vs_1": round(r2["readings_per_s"] / r1["readings_per_s"], 3),
        "ratio_share2_vs_bare": round(r2["readings_per_s"] / ceiling, 3),
        "influx_ceiling_writers": 2,
        "load_avg_start": [round(x, 2) for x in load0],
        "load_avg_end": [round(x, 2) for x in load],
        "messages_1": n1, "messages_50": n50, "mqtt_protocol": protocol,
        "publishers": f"{N_PUBLISHERS} x mosquitto_pub -l -q 1",
        "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    args = sys.argv[1:]
    print(json.dumps(run_bench(*(int(a) for a in args[:2]), protocol=(args[2:] or ["3.1.1"])[0]),
                     indent=2))
