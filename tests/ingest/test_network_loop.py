"""The ingest's MQTT network loop (ingest/_mqtt.py) on a stock paho client and a real
Mosquitto: batched acknowledgements go out on one wake-up and before DISCONNECT, a cut
connection is re-established, and no paho method is overridden."""
from __future__ import annotations

import socket
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from ingest import IngestConfig
from ingest._mqtt import NetworkLoop, connect_args, make_client

TOPIC = "fenwei/v1/xian/air/1462A/readings"


def wait_until(cond, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


class Subscriber:
    """A manual-ack ingest client on a NetworkLoop that records what it receives."""

    def __init__(self, url: str, client_id: str) -> None:
        self.cfg = IngestConfig(mqtt_url=url, client_id=client_id)
        self.client = make_client(self.cfg)
        self.mids: list[int] = []
        self.dups = 0
        self.connects = 0
        self.subscribed = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect_async(**connect_args(self.cfg))
        self.loop = NetworkLoop(self.client, lambda: len(self.mids)).start()

    def _on_connect(self, client, userdata, flags, reason_code, properties=None) -> None:
        self.connects += 1
        client.subscribe(TOPIC, qos=1)

    def _on_message(self, client, userdata, msg) -> None:
        self.mids.append(msg.mid)
        self.dups += msg.dup

    def ack_all_from_another_thread(self) -> None:
        def ack() -> None:
            for mid in list(self.mids):
                self.client.ack(mid, 1)
            self.loop.wake()
        t = threading.Thread(target=ack)
        t.start()
        t.join()


def publish(url_port: int, n: int) -> None:
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="t-loop-pub")
    pub.connect("127.0.0.1", url_port)
    pub.loop_start()
    infos = [pub.publish(TOPIC, f"m{i}".encode(), qos=1) for i in range(n)]
    for info in infos:
        info.wait_for_publish(10)
    pub.disconnect()
    pub.loop_stop()


def test_the_client_is_stock_paho():
    # no subclass: nothing of paho's private receive or send path is overridden
    assert type(make_client(IngestConfig())) is mqtt.Client


@pytest.mark.parametrize("protocol, expected", [("3.1.1", 1000), ("5", 10_000)])
def test_window_is_the_brokers_limit_of_unacknowledged_messages(protocol, expected):
    # 3.1.1: the broker's own max_inflight_messages (inflight_window, 1000 by default);
    # MQTT 5: the receive maximum the client announces (10,000 by default)
    assert IngestConfig(mqtt_protocol=protocol).window == expected


def test_batched_acks_go_out_before_disconnect(mosquitto):
    port = int(mosquitto.url.rsplit(":", 1)[1])
    sub = Subscriber(mosquitto.url, "t-loop-sub")
    assert sub.subscribed.wait(10)
    publish(port, 50)
    assert wait_until(lambda: len(sub.mids) == 50)
    sub.ack_all_from_another_thread()         # 50 PUBACKs, one wake-up
    sub.loop.stop()
    # the same persistent session again: a message published now arrives, and none of
    # the 50 comes back (all were acknowledged before the DISCONNECT)
    again = Subscriber(mosquitto.url, "t-loop-sub")
    assert again.subscribed.wait(10)
    publish(port, 1)
    assert wait_until(lambda: len(again.mids) >= 1)
    time.sleep(0.2)
    assert len(again.mids) == 1 and again.dups == 0
    again.loop.stop()


def test_unacknowledged_messages_are_redelivered_after_a_cut(mosquitto):
    port = int(mosquitto.url.rsplit(":", 1)[1])
    sub = Subscriber(mosquitto.url, "t-loop-cut")
    assert sub.subscribed.wait(10)
    publish(port, 5)
    assert wait_until(lambda: len(sub.mids) == 5)
    sub.client.socket().shutdown(socket.SHUT_RDWR)     # as the writer's on_failed does
    # the loop reconnects by itself; the broker redelivers the 5 unacknowledged (DUP set)
    assert wait_until(lambda: sub.connects == 2 and len(sub.mids) == 10)
    assert sub.dups == 5
    sub.ack_all_from_another_thread()
    sub.loop.stop()
