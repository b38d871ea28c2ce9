"""Load generator for tests and the benchmark: wire-format v1 air readings over QoS 1.

``python -m ingest._loadgen --url mqtt://... --messages N --per-msg K --times out.json``
publishes from its own process and writes each message's publish time to ``--times``.
The publisher bounds its in-flight messages (paho wraps message ids past 65,535).
"""
from __future__ import annotations

import argparse
import json
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Iterable, Iterator
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt

from core.catalogue import Catalogue, load_catalogue
from core.wire import encode, readings_topic

BASE = datetime(2025, 1, 1, tzinfo=timezone.utc)


def air_values(i: int) -> dict[str, float]:
    return {"pm25": float(20 + i % 80), "pm10": float(40 + i % 120), "so2": 8.0, "no2": 31.5,
            "o3": float(60 + i % 50), "co": 0.7, "temp": 12.5, "rh": 55.0,
            "pressure": 101.3, "wind_speed": 2.1, "wind_dir": float(i % 360)}


def air_stations(cat: Catalogue, n: int | None = None) -> list:
    st = sorted((s for s in cat.stations.values() if s.kind == "air"), key=lambda s: s.id)
    return st[:n] if n else st


def messages(cat: Catalogue, n_messages: int, per_msg: int, *, n_stations: int | None = None,
             base: datetime = BASE, seq_start: int = 0, offset: int = 0
             ) -> Iterator[tuple[str, int, str, bytes]]:
    """(station, seq, topic, payload): round-robin over stations, hourly readings each.

    Message k of a station carries readings (seq_start + k) * per_msg ... + per_msg - 1
    hours after ``base``; ``offset`` skips that many messages (to resume a stream).
    """
    stations = air_stations(cat, n_stations)
    for m in range(offset, offset + n_messages):
        s = stations[m % len(stations)]
        k = seq_start + m // len(stations)
        t0 = base + timedelta(hours=k * per_msg)
        # a fixed-offset ISO string is cheaper than reading_dict's astimezone
        rows = [{"ts": (t0 + timedelta(hours=i)).isoformat(), "period": "PT1H",
                 "values": air_values(k * per_msg + i)} for i in range(per_msg)]
        yield s.id, k, readings_topic(s.city, s.kind, s.id), encode(s.id, k, rows)


class Publisher:
    """QoS 1 publisher with at most ``max_inflight`` unacknowledged messages."""

    def __init__(self, url: str, client_id: str = "fenwei-loadgen", *,
                 max_inflight: int = 1000, persistent: bool = True) -> None:
        parts = urlsplit(url)
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                             clean_session=not persistent)
        if parts.username:
            self.c.username_pw_set(parts.username, parts.password or "")
        self.c.max_inflight_messages_set(max_inflight)
        self.c.max_queued_messages_set(0)
        self.c.reconnect_delay_set(0.2, 2)
        self._slots = threading.Semaphore(max_inflight)
        self._max = max_inflight
        self.acked = 0
        self.c.on_publish = self._on_publish
        self.c.connect(parts.hostname, parts.port or 1883, keepalive=30)
        self.c.loop_start()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self.acked += 1
        self._slots.release()

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self._slots.acquire()
        self.c.publish(topic, payload, qos=qos)

    def send(self, items: Iterable[tuple[str, bytes]], rate: float | None = None) -> list[float]:
        """Publish all; returns each message's publish time (time.time())."""
        times = []
        t_start = time.monotonic()
        for n, (topic, payload) in enumerate(items):
            if rate:
                ahead = t_start + n / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            self.publish(topic, payload)
            times.append(time.time())
        return times

    def wait_acked(self, timeout: float = 120) -> bool:
        deadline = time.monotonic() + timeout
        for _ in range(self._max):
            if not self._slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
                return False
        for _ in range(self._max):
            self._slots.release()
        return True

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--url", required=True)
    ap.add_argument("--messages", type=int, required=True)
    ap.add_argument("--per-msg", type=int, default=1)
    ap.add_argument("--stations", type=int, default=None)
    ap.add_argument("--seq-start", type=int, default=0)
    ap.add_argument("--client-id", default="fenwei-loadgen")
    ap.add_argument("--max-inflight", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=None, help="messages/s (default: flat out)")
    ap.add_argument("--times", default=None, help="write publish times (JSON) here")
    a = ap.parse_args(argv)
    cat = load_catalogue()
    payloads = [(t, p) for _, _, t, p in messages(cat, a.messages, a.per_msg,
                                                   n_stations=a.stations,
                                                   seq_start=a.seq_start)]
    pub = Publisher(a.url, a.client_id, max_inflight=a.max_inflight)
    times = pub.send(payloads, a.rate)
    ok = pub.wait_acked(600)
    pub.close()
    if a.times:
        with open(a.times, "w") as f:
            json.dump({"times": times, "all_acked": ok}, f)


if __name__ == "__main__":
    main()
