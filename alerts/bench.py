"""Benchmark of the alert platform.

* ``p99_s``: reading published on MQTT → webhook received, for a streaming threshold rule
  (duration 0) while background readings flow from other stations;
* ``dispatch_per_s``: outbox rows delivered per second to a local webhook receiver.

Starts its own Mosquitto (core.localservers) and uses a temporary SQLite state file.
"""
from __future__ import annotations

import json
import random
import shutil
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

RULES = {"rule": [{"id": "bench", "type": "threshold", "kind": "air.realtime",
                   "parameter": "pm25", "per": "station", "duration": "0s",
                   "levels": [{"level": "yellow", "above": 150, "clear_below": 100}]}]}


class _Sink:
    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self.count = 0
        self.cond = threading.Condition()
        sink = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with sink.cond:
                    sink.count += 1
                    st = body["subject"].get("station")
                    if body["event"] == "issued" and st not in sink.times:
                        sink.times[st] = time.perf_counter()
                    sink.cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, pred, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(pred, timeout)


def _recipients(tmp: Path, url: str, cat) -> Path:
    rows = [{"id": f"team-{c}", "role": "city_team", "city": c, "name_zh": c, "name_en": c,
             "channels": [{"type": "webhook", "url": url}]} for c in cat.cities]
    p = tmp / "recipients.json"
    p.write_text(json.dumps({"recipients": rows}))
    return p


def _latency(tmp: Path, cat, seed: int, n_alerts: int = 60) -> dict:
    import paho.mqtt.client as mqtt

    from core.localservers import Mosquitto
    from core.wire import encode, reading_dict, readings_topic

    from ._config import AlertSettings
    from ._service import AlertService
    sink = _Sink()
    rng = random.Random(seed)
    air = [s for s in cat.stations.values() if s.kind == "air"]
    targets, background = air[:n_alerts], air[n_alerts:]
    with Mosquitto(tmp / "mosquitto") as broker:
        # grouping off (group_wait 0s): the path's own latency; with grouping a first message
        # waits group_wait (30 s by default) for the rest of its group, by design
        svc = AlertService(AlertSettings(state_url=f"sqlite:///{tmp / 'lat.db'}",
                                         mqtt_url=broker.url, poll_interval_s=0.05,
                                         group_wait="0s"),
                           rules=RULES, recipients=_recipients(tmp, sink.url, cat))
        svc.start(schedule=False)
        svc.subscriber.subscribed.wait(10)
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-pub")
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        sent: dict[str, float] = {}
        stop = threading.Event()

        def flow():  # background readings below the threshold keep the engine busy
            seq = 0
            while not stop.is_set():
                for st in background or air:
                    if st in targets:
                        continue
                    now = datetime.now(timezone.utc)
                    pub.publish(readings_topic(st.city, "air", st.id), encode(
                        st.id, seq, [reading_dict(now, "PT1M", {"pm25": rng.uniform(20, 90)})]))
                seq += 1
                time.sleep(0.05)
        bg = threading.Thread(target=flow, daemon=True)
        bg.start()
        try:
            for i, st in enumerate(targets):
                now = datetime.now(timezone.utc)
                payload = encode(st.id, 10_000 + i, [reading_dict(now, "PT1M", {"pm25": 200.0})])
                sent[st.id] = time.perf_counter()
                pub.publish(readings_topic(st.city, "air", st.id), payload, qos=1)
                time.sleep(0.05)
            sink.wait(lambda: len(sink.times) >= len(targets), 30)
        finally:
            stop.set()
            bg.join(5)
            pub.loop_stop()
            pub.disconnect()
            svc.stop()
    lat = sorted(sink.times[s] - sent[s] for s in sent if s in sink.times)
    sink.server.shutdown()
    if not lat:
        return {"p50_s": None, "p99_s": None, "alerts_measured": 0}
    p = lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))], 4)  # noqa: E731
    return {"p50_s": p(0.5), "p99_s": p(0.99), "alerts_measured": len(lat),
            "alerts_expected": len(targets)}


def _dispatch(tmp: Path, cat, n: int = 1000) -> dict:
    from ._config import AlertSettings
    from ._service import AlertService
    from .rules import Signal
    sink = _Sink()
    rules = {"rule": [{"id": "b0", "type": "threshold", "kind": "air.realtime",
                       "parameter": "pm25", "levels": [{"level": "yellow", "above": 1}]}]}
    svc = AlertService(AlertSettings(state_url=f"sqlite:///{tmp / 'disp.db'}",
                                     mqtt_enabled=False, dispatch_batch=500,
                                     dispatch_workers=32, group_wait="0s"),
                       rules=rules, recipients=_recipients(tmp, sink.url, cat))
    svc.start(dispatch=False, schedule=False)
    now = datetime.now(timezone.utc)
    cities = list(cat.cities)
    for i in range(n):   # n alerts, one webhook notification each
        city = cities[i % len(cities)]
        svc.signal("b0", f"city:{city}#{i}", Signal("firing", now - timedelta(seconds=1),
                                                    "yellow", {}, (city,)))
    rows = len(svc.outbox(status="pending"))
    t0 = time.perf_counter()
    while svc.dispatch_once():
        pass
    dt = time.perf_counter() - t0
    svc.stop()
    sink.server.shutdown()
    return {"dispatch_rows": rows, "dispatch_s": round(dt, 3),
            "dispatch_per_s": round(rows / dt, 1) if dt else None,
            "webhooks_received": sink.count}


def run_bench(seed: int = 0) -> dict:
    from core.catalogue import load_catalogue
    cat = load_catalogue()
    tmp = Path(tempfile.mkdtemp(prefix="fenwei-alerts-bench-"))
    try:
        out = _latency(tmp, cat, seed)
        out.update(_dispatch(tmp, cat))
        out["p99_target_s"] = 1.0
        out["dispatch_target_per_s"] = 200
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(run_bench(), indent=1))
