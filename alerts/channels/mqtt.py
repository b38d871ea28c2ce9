"""MQTT: ``fenwei/v1/alerts/{city}`` retained current state, ``.../events`` each event."""
from __future__ import annotations

import json
import logging
import threading
import uuid

import paho.mqtt.client as mqtt

from core.mqtt import TlsFiles, connect_args, make_client
from core.wire import alerts_topic

from ..errors import DeliveryError
from ._base import Channel, Delivery, Receipt

log = logging.getLogger(__name__)


def mqtt_client(url: str, client_id: str, *, clean: bool = True, manual_ack: bool = False,
                tls: TlsFiles | None = None) -> mqtt.Client:
    """A 3.1.1 client (``core.mqtt``), connecting in the background once its loop starts."""
    c = make_client(url, client_id=client_id, clean_session=clean, manual_ack=manual_ack,
                    tls=tls)
    c.connect_async(**connect_args(url, keepalive=30))
    return c


def events_topic(city: str) -> str:
    return f"{alerts_topic(city)}/events"


class MqttChannel(Channel):
    name = "mqtt"

    def __init__(self, url: str, snapshot, *, instance: str, timeout_s: float = 5.0,
                 tls: TlsFiles | None = None) -> None:
        """``snapshot(city) -> dict`` gives the city's current alert state (read at send)."""
        self.snapshot, self.timeout = snapshot, timeout_s
        self.client = mqtt_client(url, f"fenwei-alerts-pub-{instance}-{uuid.uuid4().hex[:6]}",
                                  tls=tls)
        self._connected = threading.Event()
        self.client.on_connect = lambda c, u, f, rc, p=None: self._connected.set()
        self.client.on_disconnect = lambda *a: self._connected.clear()
        self.client.loop_start()

    def send(self, d: Delivery) -> Receipt:
        if not self._connected.wait(self.timeout):
            raise DeliveryError("MQTT broker not connected")
        cities = d.body["subject"]["cities"]
        for city in cities:
            self._publish(events_topic(city), d.body, retain=False)
            self._publish(alerts_topic(city), self.snapshot(city), retain=True)
        return Receipt(None, f"published to {len(cities)} city topics")

    def _publish(self, topic: str, obj: dict, retain: bool) -> None:
        info = self.client.publish(topic, json.dumps(obj, ensure_ascii=False, default=str),
                                   qos=1, retain=retain)
        try:
            info.wait_for_publish(self.timeout)
        except (RuntimeError, ValueError) as exc:
            raise DeliveryError(f"MQTT publish to {topic}: {exc}") from exc
        if not info.is_published():
            raise DeliveryError(f"MQTT publish to {topic} not acknowledged in {self.timeout}s")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
