"""Broker identity: a station's credentials cannot publish another station's readings nor
subscribe to other stations' data, nor take over the ingest's client id or session; only the
alerts user publishes alerts. The broker runs with the generated mosquitto.conf lines."""
from __future__ import annotations

import json
import subprocess
import threading
import time

import paho.mqtt.client as mqtt
from typer.testing import CliRunner

from core.localservers import Mosquitto, ServerError
from core.wire import alerts_topic, readings_topic
from ingest.broker import MAX_PACKET_SIZE, broker_app, hash_password

from ..conftest import _unavailable


class Client:
    def __init__(self, port: int, user: str, password: str, client_id: str | None = None,
                 session: bool = False) -> None:
        self.got: list[str] = []
        self.disconnected = threading.Event()
        self.suback: list = []
        self.puback: dict[int, object] = {}
        self.ready = threading.Event()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                             client_id=client_id or f"t-{user}", protocol=mqtt.MQTTv5)
        self.c.username_pw_set(user, password)
        self.c.on_connect = lambda c, u, f, rc, p: (setattr(self, "rc", rc), self.ready.set())
        self.c.on_message = lambda c, u, m: self.got.append(m.topic)
        self.c.on_subscribe = lambda c, u, mid, rcs, p: self.suback.extend(rcs)
        self.c.on_publish = lambda c, u, mid, rc, p: self.puback.__setitem__(mid, rc)
        self.c.on_disconnect = lambda c, u, f, rc, p: self.disconnected.set()
        props = None
        if session:
            from paho.mqtt.packettypes import PacketTypes
            from paho.mqtt.properties import Properties
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 3600
        self.c.connect("127.0.0.1", port, clean_start=not session, properties=props)
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
        _unavailable("mosquitto_passwd", exc)
    theirs = f.read_text().strip().split(":", 1)[1]
    _, _, iters, salt, _ = theirs.split("$")
    import base64
    assert hash_password("secret", base64.b64decode(salt), int(iters)) == theirs


def test_station_credentials_are_confined(tmp_path, catalogue):
    out, creds, broker = _configured(tmp_path)
    assert (out / "credentials.json").stat().st_mode & 0o077 == 0
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
        # barriers: the alert, published last, reaches the ingest after everything before
        # it; a's SUBACK comes after anything the broker had queued for a by then
        assert _until(lambda: alerts_topic("xian") in ingest.got)
        assert sorted(ingest.got) == sorted([own, other, alerts_topic("xian")])
        assert not a.subscribe("fenwei/v1/xian/air/1462A/config").is_failure
        assert a.got == []                                         # others' data: nothing
        bad = Client(broker.port, "1462A", "wrong")
        clients.append(bad)
        assert bad.rc.is_failure
    finally:
        for c in clients:
            c.close()
        broker.stop()


def _until(cond, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _configured(tmp_path):
    """(folder, credentials, broker): `fenwei broker config` run into a folder, and a
    Mosquitto started with what it generated."""
    out = tmp_path / "broker"
    res = CliRunner().invoke(broker_app, ["config", "--out", str(out)])
    assert res.exit_code == 0, res.output
    creds = json.loads((out / "credentials.json").read_text())
    return out, creds, _generated_broker(tmp_path, out)


def _generated_broker(tmp_path, out) -> Mosquitto:
    """A Mosquitto configured with the lines `fenwei broker config` generated."""
    lines = [ln for ln in (out / "mosquitto.conf").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    broker = Mosquitto(tmp_path / "mq", extra_config=lines)
    try:
        broker.start()
    except ServerError as exc:
        _unavailable("Mosquitto with the generated config", exc)
    return broker


def test_station_credentials_cannot_take_over_the_ingest_session(tmp_path):
    _, creds, broker = _configured(tmp_path)
    clients = []
    try:
        ingest = Client(broker.port, "ingest", creds["ingest"], client_id="fenwei-ingest",
                        session=True)
        clients.append(ingest)
        assert not ingest.subscribe("fenwei/v1/+/+/+/readings").is_failure
        # a station's password, with the ingest's configured id and with its user name
        for cid in ("fenwei-ingest", "ingest"):
            thief = Client(broker.port, "1462A", creds["1462A"], client_id=cid)
            clients.append(thief)
            assert not thief.rc.is_failure
            own = readings_topic("xian", "air", "1462A")
            assert not thief.publish(own).is_failure
            thief.close()
        # the ingest kept its connection and its session: what a station publishes reaches it
        b = Client(broker.port, "1463A", creds["1463A"])
        clients.append(b)
        assert not b.publish(readings_topic("xian", "air", "1463A")).is_failure
        assert _until(lambda: readings_topic("xian", "air", "1463A") in ingest.got)
        assert not ingest.disconnected.is_set()
        assert ingest.got.count(readings_topic("xian", "air", "1462A")) == 2
        # packets beyond max_packet_size cut the sender off
        big = Client(broker.port, "1464A", creds["1464A"])
        clients.append(big)
        big.c.publish(readings_topic("xian", "air", "1464A"), b"x" * (MAX_PACKET_SIZE + 1),
                      qos=1)
        assert big.disconnected.wait(5)
    finally:
        for c in clients:
            c.close()
        broker.stop()
