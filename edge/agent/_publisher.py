"""The broker side: one MQTT session per station, all driven by one thread.

Each station has its own paho client (persistent session, QoS 1) so that its retained status
and its last will speak for that station alone. The thread waits on every socket at once,
hands the oldest queued readings to the broker in batches (never more than ``max_inflight``
messages per station), deletes them from the queue when the broker acknowledges
(``on_publish``), reconnects with exponential backoff and jitter, publishes the retained status,
and applies remote configuration.
"""
from __future__ import annotations

import json
import logging
import random
import select
import socket
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt

from core.catalogue import Station
from core.settings import Settings
from core.wire import config_topic, iso, readings_topic, status_topic

from ._config import AgentConfig
from ._queue import DurableQueue, Message
from ._remote import RemoteConfigurator
from ._stats import RateLimitedLog, Stats

log = logging.getLogger(__name__)
ClientFactory = Callable[[str], mqtt.Client]


@dataclass
class _Link:
    station: Station
    client: mqtt.Client
    topic: str
    status_topic: str
    config_topic: str
    connected: bool = False
    next_attempt: float = 0.0
    attempts: int = 0
    inflight: dict[int, Message] = field(default_factory=dict)
    resend: deque = field(default_factory=deque)
    status_mid: int | None = None


def _default_factory(settings: Settings) -> ClientFactory:
    url = urlsplit(settings.mqtt_url)

    def make(client_id: str) -> mqtt.Client:
        transport = "websockets" if url.scheme in ("ws", "wss") else "tcp"
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                             clean_session=False, protocol=mqtt.MQTTv311, transport=transport)
        if url.username:
            client.username_pw_set(unquote(url.username),
                                   unquote(url.password) if url.password else None)
        if url.scheme in ("mqtts", "wss"):
            client.tls_set(ca_certs=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None,
                           certfile=str(settings.mqtt_cert_file) if settings.mqtt_cert_file else None,
                           keyfile=str(settings.mqtt_key_file) if settings.mqtt_key_file else None,
                           cert_reqs=ssl.CERT_REQUIRED)
        return client
    return make


def broker_address(mqtt_url: str) -> tuple[str, int]:
    url = urlsplit(mqtt_url)
    default = {"mqtt": 1883, "mqtts": 8883, "ws": 80, "wss": 443}.get(url.scheme, 1883)
    return url.hostname or "127.0.0.1", url.port or default


class Publisher:
    """Start with :meth:`start`; :meth:`wake` after queueing; :meth:`stop` drains and says bye."""

    def __init__(self, config: AgentConfig, settings: Settings, queue: DurableQueue,
                 stations: list[Station], stats: Stats, remote: RemoteConfigurator, *,
                 client_factory: ClientFactory | None = None, clock=time.time,
                 rng: random.Random | None = None) -> None:
        self._cfg, self._mq = config, config.mqtt
        self._queue, self._stats, self._remote, self._clock = queue, stats, remote, clock
        self._rng = rng or random.Random()
        self._host, self._port = broker_address(settings.mqtt_url)
        factory = client_factory or _default_factory(settings)
        self._links = [self._link(st, factory) for st in stations]
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stop = threading.Event()
        self._last_status = float("-inf")
        self._status_urgent = False
        self._acked: list[int] = []
        self._thread: threading.Thread | None = None
        self._rlog = RateLimitedLog(log)
        self.drained = threading.Event()

    # -- lifecycle --------------------------------------------------------------------------

    def _link(self, st: Station, factory: ClientFactory) -> _Link:
        client = factory(f"{self._mq.client_id_prefix}-{st.id}")
        link = _Link(st, client, readings_topic(st.city, st.kind, st.id),
                     status_topic(st.city, st.kind, st.id), config_topic(st.city, st.kind, st.id))
        client.user_data_set(link)
        client.max_inflight_messages_set(self._mq.max_inflight + 4)
        client.max_queued_messages_set(0)
        client.connect_timeout = 5.0
        client.will_set(link.status_topic, self._bye(st.id), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.connect_async(self._host, self._port, keepalive=self._mq.keepalive_s)
        link.resend.extend(self._queue.assigned(st.id))
        return link

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="edge-publisher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(self._mq.drain_timeout_s + 15)

    def wake(self, status: bool = False) -> None:
        """New readings are queued (``status``: and something the status must announce)."""
        if status:
            self._status_urgent = True
        try:
            self._wake_w.send(b"x")
        except (BlockingIOError, OSError):
            pass

    # -- the loop ---------------------------------------------------------------------------

    def _run(self) -> None:
        last_misc = last_expire = 0.0
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                self._step(1.0 if now - last_misc < 1.0 else 0.0)
                if now - last_misc >= 1.0:
                    last_misc = now
                    for link in self._links:
                        if link.client.socket() is not None:
                            link.client.loop_misc()
                if now - last_expire >= 60.0:
                    last_expire = now
                    self._expire()
            self._drain()
        except Exception:  # noqa: BLE001
            log.exception("edge publisher crashed")
        finally:
            self._flush_acks()
            for link in self._links:
                try:
                    link.client.disconnect()
                    link.client.loop(0.05)
                except Exception:  # noqa: BLE001
                    pass

    def _step(self, timeout: float) -> None:
        socks: dict = {}
        for link in self._links:
            sock = link.client.socket()
            if sock is None:
                link.connected = False
                if time.monotonic() >= link.next_attempt:
                    self._connect(link)
                    sock = link.client.socket()
            if sock is not None:
                socks[sock] = link
        wait = min(timeout, self._next_deadline())
        wlist = [s for s, link in socks.items() if link.client.want_write()]
        try:
            readable, writable, _ = select.select([self._wake_r, *socks], wlist, [], wait)
        except (OSError, ValueError):  # a socket closed under us; next round rebuilds the set
            readable, writable = list(socks), []
        if self._wake_r in readable:
            try:
                while self._wake_r.recv(4096):
                    pass
            except (BlockingIOError, OSError):
                pass
        for sock in set(readable) | set(writable):
            link = socks.get(sock)
            if link is not None:
                link.client.loop(0)
        self._flush_acks()
        for link in self._links:
            if link.connected:
                self._fill(link)
        self._status_tick()

    def _next_deadline(self) -> float:
        now = time.monotonic()
        waits = [max(0.0, l.next_attempt - now) for l in self._links if l.client.socket() is None]
        if self._status_urgent:
            waits.append(max(0.05, self._last_status + 1.0 - now))
        return min(waits, default=1.0)

    def _connect(self, link: _Link) -> None:
        try:
            link.client.reconnect()
        except (OSError, ssl.SSLError, ValueError) as exc:
            self._backoff(link)
            self._rlog.warning(f"connect:{link.station.id}", "station %s: broker %s:%d "
                               "unreachable (%s); retry in %.1f s", link.station.id, self._host,
                               self._port, exc, link.next_attempt - time.monotonic())

    def _backoff(self, link: _Link) -> None:
        cap = min(self._mq.backoff_max_s, self._mq.backoff_initial_s * 2 ** min(link.attempts, 30))
        link.attempts += 1
        link.next_attempt = time.monotonic() + cap / 2 + self._rng.random() * cap / 2

    # -- paho callbacks (run in this thread, inside client.loop) ------------------------------

    def _on_connect(self, client, link: _Link, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._rlog.warning(f"connack:{link.station.id}", "station %s: broker refused the "
                               "connection: %s", link.station.id, reason_code)
            self._stats.inc("mqtt.refused", station=link.station.id)
            client.disconnect()
            return
        link.connected, link.attempts = True, 0
        self._stats.inc("mqtt.connects", station=link.station.id)
        log.info("station %s: connected to %s:%d (session present: %s)", link.station.id,
                 self._host, self._port, flags.session_present)
        client.subscribe(link.config_topic, qos=1)
        self._publish_status(link, "online")

    def _on_disconnect(self, client, link: _Link, flags, reason_code, properties) -> None:
        was = link.connected
        link.connected = False
        self._backoff(link)
        if was and not self._stop.is_set():
            self._stats.inc("mqtt.disconnects", station=link.station.id)
            log.warning("station %s: disconnected from the broker (%s); %d messages in flight",
                        link.station.id, reason_code, len(link.inflight))

    def _on_publish(self, client, link: _Link, mid, reason_code, properties) -> None:
        if mid == link.status_mid:
            link.status_mid = None
        msg = link.inflight.pop(mid, None)
        if msg is None:
            return
        self._acked.extend(msg.ids)
        self._stats.inc("published", len(msg.ids), station=link.station.id)
        self._stats.inc("messages", station=link.station.id)

    def _on_message(self, client, link: _Link, message) -> None:
        if message.topic == link.config_topic:
            self._remote.apply(link.station, message.payload)
            self._publish_status(link, "online")

    # -- readings ---------------------------------------------------------------------------

    def _fill(self, link: _Link) -> None:
        free = self._mq.max_inflight - len(link.inflight)
        if free <= 0:
            return
        batch: list[Message] = []
        while link.resend and len(batch) < free:
            batch.append(link.resend.popleft())
        if len(batch) < free:
            batch += self._queue.take(link.station.id, free - len(batch), self._mq.batch_max)
        for msg in batch:
            info = link.client.publish(link.topic, msg.payload(), qos=1)
            link.inflight[info.mid] = msg

    def _flush_acks(self) -> None:
        if self._acked:
            ids, self._acked = self._acked, []
            self._queue.ack(ids)

    def _expire(self) -> None:
        n = self._queue.expire(self._cfg.queue.max_age_s)
        if n:
            self._stats.inc("dropped", n)
            self._stats.inc("dropped.max_age", n)
            log.warning("dropped %d readings queued longer than %s", n, self._cfg.queue.max_age)
            self._status_urgent = True

    def _drain(self) -> None:
        """Wait (bounded) for in-flight acknowledgements, then say offline on each station."""
        deadline = time.monotonic() + self._mq.drain_timeout_s
        while time.monotonic() < deadline and any(l.inflight for l in self._links if l.connected):
            self._step_io(0.05)
        for link in self._links:
            if link.connected:
                link.status_mid = self._publish_status(link, "offline")
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and any(
                l.status_mid is not None and l.connected for l in self._links):
            self._step_io(0.05)
        self.drained.set()

    def _step_io(self, timeout: float) -> None:
        socks = {l.client.socket(): l for l in self._links if l.client.socket() is not None}
        if not socks:
            time.sleep(timeout)
            return
        wlist = [s for s, l in socks.items() if l.client.want_write()]
        try:
            r, w, _ = select.select(list(socks), wlist, [], timeout)
        except (OSError, ValueError):
            return
        for sock in set(r) | set(w):
            socks[sock].client.loop(0)
            link = socks[sock]
            if link.status_mid is not None and not link.client.is_connected():
                link.status_mid = None
        self._flush_acks()

    # -- status -----------------------------------------------------------------------------

    def _bye(self, station: str) -> bytes:
        return json.dumps({"v": 1, "station": station, "state": "offline",
                           "agent": self._cfg.agent_id}).encode()

    def _status_tick(self) -> None:
        now = time.monotonic()
        since = now - self._last_status
        if since >= self._mq.status_interval_s or (self._status_urgent and since >= 1.0):
            self._status_urgent = False
            self._last_status = now
            for link in self._links:
                if link.connected:
                    self._publish_status(link, "online")

    def status(self, link: _Link, state: str) -> dict:
        st = link.station.id
        depth, total = self._queue.depth(st), self._queue.depth()
        oldest = self._queue.oldest_ts(st)
        agent = self._stats.snapshot()
        alarms = []
        if agent.get("dropped.queue_full") or agent.get("rejected.queue_full") or \
                total >= self._cfg.queue.max_readings:
            alarms.append("queue_full")
        if agent.get("dropped.max_age"):
            alarms.append("queue_expired")
        return {
            "v": 1, "station": st, "state": state, "agent": self._cfg.agent_id,
            "ts": iso(datetime.now(timezone.utc)),
            "queue": {"depth": depth, "oldest_ts": None if oldest is None else
                      iso(datetime.fromtimestamp(oldest, timezone.utc)),
                      "agent_depth": total, "max_readings": self._cfg.queue.max_readings,
                      "policy": self._cfg.queue.policy, "inflight": len(link.inflight)},
            "alarms": alarms,
            "counters": self._stats.snapshot(st),
            "agent_counters": agent,
            "config": self._remote.state(st),
        }

    def _publish_status(self, link: _Link, state: str) -> int | None:
        try:
            body = json.dumps(self.status(link, state), ensure_ascii=False).encode()
            return link.client.publish(link.status_topic, body, qos=1, retain=True).mid
        except Exception:  # noqa: BLE001 - status is best effort
            log.exception("station %s: cannot publish status", link.station.id)
            return None
