"""Building the paho client: URL, protocol version, persistent session, receive maximum."""
from __future__ import annotations

import ssl
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ._config import IngestConfig


def make_client(cfg: IngestConfig) -> mqtt.Client:
    """A manual-ack client with a fixed id (the broker keeps its session and queue)."""
    v5 = cfg.mqtt_protocol == "5"
    parts = urlsplit(cfg.mqtt_url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cfg.client_id,
                         protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
                         clean_session=None if v5 else False,
                         transport="websockets" if parts.scheme in ("ws", "wss") else "tcp",
                         manual_ack=True)
    if parts.username:
        client.username_pw_set(unquote(parts.username), unquote(parts.password or ""))
    if parts.scheme in ("mqtts", "wss"):
        client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
    client.reconnect_delay_set(1, 10)
    # v3.1.1 brokers bound in-flight messages themselves (mosquitto: max_inflight_messages)
    client.max_inflight_messages_set(20)
    return client


def connect_args(cfg: IngestConfig) -> dict:
    parts = urlsplit(cfg.mqtt_url)
    default_port = 8883 if parts.scheme in ("mqtts", "wss") else 1883
    args = {"host": parts.hostname or "127.0.0.1", "port": parts.port or default_port,
            "keepalive": cfg.keepalive_s}
    if cfg.mqtt_protocol == "5":
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = cfg.session_expiry_s
        props.ReceiveMaximum = cfg.receive_maximum
        args.update(clean_start=False, properties=props)
    return args


def subscribe(client: mqtt.Client, cfg: IngestConfig) -> None:
    if cfg.mqtt_protocol == "5":
        from paho.mqtt.subscribeoptions import SubscribeOptions
        client.subscribe(cfg.subscription, options=SubscribeOptions(qos=1))
    else:
        client.subscribe(cfg.subscription, qos=1)
