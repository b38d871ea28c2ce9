"""Helpers for edge agent tests: config, device emulators built with the codecs, a subscriber."""
from __future__ import annotations

import json
import socket
import threading
import time
from datetime import datetime, timedelta, timezone

import paho.mqtt.client as mqtt
import pytest

from core.wire import READINGS_FILTER, STATUS_FILTER, decode
from edge.agent import parse_config
from edge.protocols import hj212, sl651

CST = timezone(timedelta(hours=8))
AIR = ("1462A", "1463A")
HYDRO = "lintong"
ADDR = "0041103300"


def make_config(tmp_path, **edge):
    doc = {
        "agent_id": "test", "data_dir": str(tmp_path / "agent"),
        "hj212": {"host": "127.0.0.1", "port": 0}, "sl651": {"host": "127.0.0.1", "port": 0},
        "mqtt": {"backoff_initial_s": 0.2, "backoff_max_s": 1.0, "status_interval_s": 1.0,
                 "client_id_prefix": f"t{time.time_ns() % 10**9}"},
        "devices": [
            {"protocol": "hj212", "station": AIR[0], "mn": "MN0000000000000000000001",
             "password": "123456", "factors": {
                 "a34004": {"param": "pm25"}, "a21026": {"param": "so2", "range_max": 100},
                 "a21005": {"param": "co", "scale": 0.001}}},
            {"protocol": "hj212", "station": AIR[1], "mn": "MN0000000000000000000002",
             "password": "123456", "crc_swapped_ok": True},
            {"protocol": "sl651", "station": HYDRO, "address": ADDR, "password": "1234"},
        ],
    }
    for key, value in edge.items():
        if isinstance(value, dict) and isinstance(doc.get(key), dict):
            doc[key] = {**doc[key], **value}
        else:
            doc[key] = value
    return parse_config(doc)


class Hj212Device:
    """A data logger: sends uploads, waits for the 9014 answer."""

    def __init__(self, port: int, mn: str, pw: str = "123456") -> None:
        self.port, self.mn, self.pw = port, mn, pw
        self.sock: socket.socket | None = None
        self.decoder = hj212.StreamDecoder()
        self.replies: list = []

    def connect(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                self.decoder = hj212.StreamDecoder()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def close(self) -> None:
        if self.sock:
            self.sock.close()
            self.sock = None

    def send_raw(self, data: bytes, wait: float = 0.0) -> list:
        self.sock.sendall(data)
        return self.read(wait) if wait else []

    def read(self, wait: float) -> list:
        out = []
        self.sock.settimeout(wait)
        try:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            out = self.decoder.feed(chunk)
        except socket.timeout:
            pass
        self.replies += out
        return out

    def upload(self, data_time: datetime, factors: dict, *, cn: str = "2051",
               qn: datetime | None = None, pw: str | None = None, swapped: bool = False,
               timeout: float = 5.0):
        """Send one upload asking for an answer; return the answer packet (or None)."""
        parts = hj212.build_upload(cn, self.mn, data_time, factors, pw=pw or self.pw,
                                   qn=qn or datetime.now(CST), ack=True)
        for p in parts:
            p.crc_swapped = swapped
        want = {p.qn for p in parts}
        self.sock.sendall(b"".join(hj212.encode_packet(p) for p in parts))
        deadline = time.monotonic() + timeout
        got = []
        while time.monotonic() < deadline:
            for r in self.read(0.2):
                if isinstance(r, hj212.Packet) and r.qn in want:
                    got.append(r)
            if len(got) >= len(parts) or any(r.cn == "9011" for r in got):
                return got[-1]
        return got[-1] if got else None


class Sl651Device:
    def __init__(self, port: int, address: str = ADDR, password: int = 0x1234) -> None:
        self.port, self.address, self.password = port, address, password
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.decoder = sl651.StreamDecoder()
        self.serial = 0

    def close(self) -> None:
        self.sock.close()

    def report(self, observed: datetime, values: dict, *, sent: datetime | None = None,
               password: int | None = None, timeout: float = 5.0):
        self.serial += 1
        frames = sl651.encode_up(0x32, self.address, serial=self.serial,
                                 sent=sent or datetime.now(CST), observed=observed,
                                 values=values,
                                 password=self.password if password is None else password)
        self.sock.sendall(b"".join(frames))
        self.sock.settimeout(0.2)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(4096)
            except socket.timeout:
                continue
            for item in self.decoder.feed(chunk):
                if isinstance(item, sl651.Frame) and item.serial == self.serial:
                    return item
        return None


class Subscriber:
    """Collects readings and status messages (decoded against the catalogue)."""

    def __init__(self, url_port: int, catalogue, user: str | None = None,
                 password: str | None = None) -> None:
        self.cat = catalogue
        self.batches: list = []
        self.rejected: list = []
        self.status: dict[str, dict] = {}
        self.status_log: list[dict] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()  # SUBACK seen: the (persistent) session holds both
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=f"sub{time.time_ns()}", clean_session=False)
        self.client.reconnect_delay_set(0.2, 1)
        if user is not None:
            self.client.username_pw_set(user, password)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *a: c.subscribe([(READINGS_FILTER, 1),
                                                             (STATUS_FILTER, 1)])
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.connect("127.0.0.1", url_port)
        self.client.loop_start()

    def _on_message(self, client, userdata, msg) -> None:
        with self.lock:
            if msg.topic.endswith("/status"):
                doc = json.loads(msg.payload)
                self.status[doc["station"]] = doc
                self.status_log.append(doc)
                return
            b = decode(msg.topic, msg.payload, self.cat)
            (self.batches if b else self.rejected).append(b)

    def readings(self, station: str | None = None) -> list:
        with self.lock:
            return [r for b in self.batches for r in b.readings
                    if station is None or r.station == station]

    def wait(self, predicate, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return predicate()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def subscriber(mosquitto, catalogue):
    sub = Subscriber(mosquitto.port, catalogue)
    yield sub
    sub.close()


def minute(n: int, base: datetime | None = None) -> datetime:
    base = base or datetime.now(CST).replace(second=0, microsecond=0) - timedelta(hours=3)
    return base + timedelta(minutes=n)


class Feeder(threading.Thread):
    """A logger sending one minute reading every ``pause`` s; resends what got no answer,
    reconnecting as a real logger does. ``acked`` holds the data times answered with 9014."""

    def __init__(self, port: int, mn: str, base: datetime, pause: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.dev = Hj212Device(port, mn)
        self.base, self.pause = base, pause
        self.acked: list[datetime] = []
        self.sent = 0
        self.stop_flag = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.stop_flag.is_set():
            ts = self.base + timedelta(minutes=i)
            try:
                if self.dev.sock is None:
                    self.dev.connect(timeout=60)
                self.sent += 1
                reply = self.dev.upload(ts, {"a34004": 30 + i % 50, "a21026": 5 + i % 7},
                                        timeout=2.0)
            except OSError:
                self.dev.close()
                time.sleep(0.1)
                continue
            if reply is not None and reply.cn == "9014":
                self.acked.append(ts)
                i += 1
            time.sleep(self.pause)
        self.dev.close()

    def stop(self) -> None:
        self.stop_flag.set()
        self.join(10)
