"""Broker identity: a station's credentials cannot publish another station's readings nor
subscribe to other stations' data; only the alerts user publishes alerts."""
from __future__ import annotations

import json
import subprocess
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from typer.testing import CliRunner

from core.localservers import Mosquitto, ServerError
from core.wire import alerts_topic, readings_topic
from ingest.broker import broker_app, hash_password


class Client:
    def __init__(self, port: int, user: str, password: str) -> None:
        self.got: list[str] = []
        self.suback: list = []
        self.puback: dict[int, object] = {}
        self.ready = threading.Event()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{user}",
                             protocol=mqtt.MQTTv5)
        self.c.username_pw_set(user, password)
        self.c.on_connect = lambda c, u, f, rc, p: (setattr(self, "rc", rc), self.ready.set())
        self.c.on_message = lambda c, u, m: self.got.append(m.topic)
        self.c.on_subscribe = lambda c, u, mid, rcs, p: self.suback.extend(rcs)
        self.c.on_publish = lambda c, u, mid, rc, p: self.puback.__setitem__(mid, rc)
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        assert self.ready.wait(5)

    def publish(self, topic: str) -> object:
        info = self.c.publish(topic, b"{}", qos=1)
        deadline = time.monotonic() + 5
        while info.mid not in self.puback and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.puback.get(info.mid)

    def subscribe(self, topic: str) -> object:
        n = len(self.suback)
        self.c.subscribe(topic, qos=1)
        deadline = time.monotonic() + 5
        while len(self.suback) == n and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.suback[-1]

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def test_hash_matches_mosquitto_passwd(tmp_path):
    f = tmp_path / "pw"
    try:
        subprocess.run(["mosquitto_passwd", "-c", "-b", str(f), "u", "secret"], check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"mosquitto_passwd unavailable: {exc}")
    theirs = f.read_text().strip().split(":", 1)[1]
    _, _, iters, salt, _ = theirs.split("$")
    import base64
    assert hash_password("secret", base64.b64decode(salt), int(iters)) == theirs


def test_station_credentials_are_confined(tmp_path, catalogue):
    out = tmp_path / "broker"
    res = CliRunner().invoke(broker_app, ["config", "--out", str(out)])
    assert res.exit_code == 0, res.output
    creds = json.loads((out / "credentials.json").read_text())
    assert (out / "credentials.json").stat().st_mode & 0o077 == 0
    broker = Mosquitto(tmp_path / "mq", password_file=out / "passwd", acl_file=out / "acl")
    try:
        broker.start()
    except ServerError as exc:
        pytest.skip(f"Mosquitto unavailable: {exc}")
    clients = []
    try:
        def client(user, password=None):
            c = Client(broker.port, user, password or creds[user])
            clients.append(c)
            return c
        ingest, a, b = client("ingest"), client("1462A"), client("1463A")
        alerts = client("alerts")
        assert not ingest.subscribe("$share/g/fenwei/v1/+/+/+/readings").is_failure
        assert not ingest.subscribe("fenwei/v1/alerts/#").is_failure
        # Mosquitto may grant a wildcard subscription, but delivers nothing it may not read
        a.subscribe("fenwei/v1/#")
        a.subscribe("$share/other/fenwei/v1/+/+/+/readings")
        a.subscribe(readings_topic("xian", "air", "1463A"))
        own = readings_topic("xian", "air", "1462A")
        other = readings_topic("xian", "air", "1463A")
        assert not a.publish(own).is_failure
        assert a.publish(other).is_failure                        # not authorised
        assert a.publish(alerts_topic("xian")).is_failure
        assert ingest.publish(alerts_topic("xian")).is_failure
        assert not alerts.publish(alerts_topic("xian")).is_failure
        assert not b.publish(other).is_failure
        time.sleep(0.5)
        assert sorted(ingest.got) == sorted([own, other, alerts_topic("xian")])
        assert a.got == []                                         # others' data: nothing
        bad = Client(broker.port, "1462A", "wrong")
        clients.append(bad)
        assert bad.rc.is_failure
    finally:
        for c in clients:
            c.close()
        broker.stop()
