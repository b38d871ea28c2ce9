"""Building the paho client: URL, protocol version, persistent session, receive maximum."""
from __future__ import annotations

import ssl
import struct
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ._config import IngestConfig


def make_client(cfg: IngestConfig) -> mqtt.Client:
    """A manual-ack client with a fixed id (the broker keeps its session and queue)."""
    v5 = cfg.mqtt_protocol == "5"
    parts = urlsplit(cfg.mqtt_url)
    client = FastClient(mqtt.CallbackAPIVersion.VERSION2, client_id=cfg.client_id,
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


class _Msg:
    """What ``on_message`` gets on the fast path (the MQTTMessage attributes it reads)."""

    __slots__ = ("mid", "topic", "payload", "qos", "dup", "retain", "properties", "timestamp")

    def __init__(self, mid: int, topic: str, payload: bytes, qos: int, dup: bool,
                 retain: bool) -> None:
        self.mid, self.topic, self.payload = mid, topic, payload
        self.qos, self.dup, self.retain = qos, dup, retain
        self.properties, self.timestamp = None, 0.0


_PUBLISH, _PUBACK = int(mqtt.PUBLISH), int(mqtt.PUBACK)
_EMPTY_IN = {"command": 0, "have_remaining": 0, "remaining_count": [], "remaining_mult": 1,
             "remaining_length": 0, "packet": bytearray(b""), "to_process": 0, "pos": 0}


def _has_filters(matcher) -> bool:
    """Whether per-topic callbacks (``message_callback_add``) may be registered."""
    root = getattr(matcher, "_root", None)
    return root is None or bool(root._children) or root._content is not None


class FastClient(mqtt.Client):
    """paho's client with a faster receive path, for a subscriber taking thousands of msg/s.

    Stock paho reads every packet with three or more ``recv`` calls and handles one packet
    per ``select``; this reads up to 256 KiB per call and handles every complete packet in
    it. MQTT 3.1.1 QoS 0/1 PUBLISH packets skip paho's per-message logging, MQTTMessage
    (and its Condition) and topic-filter matching: ``on_message`` gets a slotted object
    with the same attributes. Everything else (CONNACK, SUBACK, PINGRESP, v5 properties,
    QoS 2, per-topic callbacks) goes through paho's own ``_packet_handle``.
    ``ack_many`` queues the PUBACKs of many messages as one write.
    """

    _rsock = None
    _rbuf: bytearray

    def _packet_read(self) -> mqtt.MQTTErrorCode:
        sock = self._sock
        if sock is not self._rsock:              # a new connection: drop stale bytes
            self._rsock, self._rbuf = sock, bytearray()
        buf = self._rbuf
        try:
            data = self._sock_recv(262_144)
        except BlockingIOError:
            return mqtt.MQTT_ERR_AGAIN
        except OSError as err:
            self._easy_log(mqtt.MQTT_LOG_ERR, "failed to receive on socket: %s", err)
            return mqtt.MQTTErrorCode.MQTT_ERR_CONN_LOST
        if not data:
            return mqtt.MQTTErrorCode.MQTT_ERR_CONN_LOST
        buf += data
        with self._msgtime_mutex:
            self._last_bytes_received = mqtt.time_func()
        fast = self._protocol != mqtt.MQTTv5
        pos, n, rc = 0, len(buf), mqtt.MQTT_ERR_AGAIN
        try:
            while n - pos >= 2:
                cmd = buf[pos]
                rl, mult, i = 0, 1, pos + 1
                while True:
                    if i >= n:
                        return mqtt.MQTT_ERR_AGAIN          # length incomplete
                    b = buf[i]
                    rl += (b & 127) * mult
                    mult <<= 7
                    i += 1
                    if not b & 128:
                        break
                    if i - pos > 4:
                        return mqtt.MQTTErrorCode.MQTT_ERR_PROTOCOL
                end = i + rl
                if end > n:
                    break
                pos = end
                if fast and cmd & 0xF0 == _PUBLISH and not cmd & 4:
                    r = self._fast_publish(cmd, buf, i, end)
                else:
                    r = self._slow_packet(cmd, buf[i:end])
                if r > 0 or self._sock is not sock:
                    return r
            return rc
        finally:
            del buf[:pos]

    def _slow_packet(self, cmd: int, body: bytearray) -> mqtt.MQTTErrorCode:
        self._in_packet = {**_EMPTY_IN, "command": cmd, "have_remaining": 1,
                           "remaining_length": len(body), "packet": body,
                           "remaining_count": []}
        try:
            rc = self._packet_handle()
        except mqtt.MalformedPacket as exc:
            self._easy_log(mqtt.MQTT_LOG_DEBUG, "Received malformed packet: %s", exc)
            rc = mqtt.MQTTErrorCode.MQTT_ERR_PROTOCOL
        self._in_packet = {**_EMPTY_IN, "remaining_count": [], "packet": bytearray(b"")}
        return rc

    def _fast_publish(self, cmd: int, buf: bytearray, i: int, end: int) -> mqtt.MQTTErrorCode:
        qos = (cmd >> 1) & 3
        tlen = (buf[i] << 8) | buf[i + 1]
        p = i + 2 + tlen
        if p > end or _has_filters(self._on_message_filtered):
            return self._slow_packet(cmd, buf[i:end])
        try:
            topic = buf[i + 2:p].decode("utf-8")
        except UnicodeDecodeError:
            return self._slow_packet(cmd, buf[i:end])
        mid = 0
        if qos:
            if p + 2 > end:
                return mqtt.MQTTErrorCode.MQTT_ERR_PROTOCOL
            mid = (buf[p] << 8) | buf[p + 1]
            p += 2
        msg = _Msg(mid, topic, bytes(buf[p:end]), qos, bool(cmd & 8), bool(cmd & 1))
        on_message = self.on_message
        if on_message is not None:
            with self._in_callback_mutex:
                try:
                    on_message(self, self._userdata, msg)
                except Exception as err:
                    self._easy_log(mqtt.MQTT_LOG_ERR, "Caught exception in on_message: %s",
                                   err)
                    if not self.suppress_exceptions:
                        raise
        if qos == 1 and not self._manual_ack:
            return self._send_puback(mid)
        return mqtt.MQTT_ERR_SUCCESS

    def ack_many(self, mids: list[int]) -> None:
        """PUBACK QoS 1 messages: one queued write for all (callable from any thread)."""
        if mids:
            data = struct.pack(f">{len(mids)}I", *[0x40020000 | m for m in mids])
            self._packet_queue(_PUBACK, data, 0, 1)
