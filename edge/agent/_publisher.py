"""The broker side: one MQTT session per station, all driven by one thread.

Each station has its own paho client (MQTT 5, persistent session, QoS 1) and, with a
credentials file, its own user and client id (the station id), so that the broker's
per-station ACL applies and its retained status and last will speak for that station alone.
The thread waits on every socket at once, hands the oldest queued readings to the broker in
batches (never more than ``max_inflight`` messages per station), deletes them from the queue
when the broker acknowledges them with a success reason code (``on_publish``), reconnects with
exponential backoff and jitter, publishes the retained status, and applies remote
configuration. A refused publish (PUBACK reason code >= 0x80, e.g. 135 not authorized) is never
taken as delivered: its readings stay queued, the station holds off with the same backoff, and
the refusal is counted (``refused``), logged at error and raised as the ``publish_refused``
alarm on the status topics until the broker accepts the station's readings again.
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

import paho.mqtt.client as mqtt

from core.backoff import backoff_delay
from core.catalogue import Station
from core.mqtt import (TlsFiles, connect_args, make_client, reason_name, refused,
                       session_properties)
from core.settings import Settings
from core.wire import config_topic, fill_topic, iso, readings_topic, status_topic

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
    fill_topic: str = ""
    connected: bool = False
    next_attempt: float = 0.0
    attempts: int = 0
    inflight: dict[int, Message] = field(default_factory=dict)
    resend: deque = field(default_factory=deque)
    status_mid: int | None = None
    refused: str | None = None      # reason of the last refused publish, until one succeeds
    refusals: int = 0               # refused publishes in a row: the hold-off's backoff step
    hold_until: float = 0.0         # monotonic: no new readings before (after a refusal)


def _default_factory(settings: Settings, protocol: str = "5") -> ClientFactory:
    """MQTT 5 clients (3.1.1 where configured); URL credentials and TLS files from
    ``settings``."""
    tls = TlsFiles.from_settings(settings)

    def make(client_id: str) -> mqtt.Client:
        return make_client(settings.mqtt_url, client_id=client_id, protocol=protocol, tls=tls,
                           clean_session=False)   # 3.1.1: a persistent session too
    return make


class Publisher:
    """Start with :meth:`start`; :meth:`wake` after queueing; :meth:`stop` drains and says bye."""

    def __init__(self, config: AgentConfig, settings: Settings, queue: DurableQueue,
                 stations: list[Station], stats: Stats, remote: RemoteConfigurator, *,
                 client_factory: ClientFactory | None = None, clock=time.time,
                 rng: random.Random | None = None,
                 credentials: dict[str, str] | None = None,
                 on_fill: Callable[[Station, bytes], None] | None = None) -> None:
        self._cfg, self._mq = config, config.mqtt
        self._queue, self._stats, self._remote, self._clock = queue, stats, remote, clock
        self._rng = rng or random.Random()
        address = connect_args(settings.mqtt_url)
        self._host, self._port = address["host"], address["port"]
        factory = client_factory or _default_factory(settings, config.mqtt.protocol)
        self._creds = credentials or {}
        self._on_fill = on_fill
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
        password = self._creds.get(st.id)
        client = factory(st.id if password is not None else
                         f"{self._mq.client_id_prefix}-{st.id}")
        if password is not None:    # user = client id = station id: the broker binds them
            client.username_pw_set(st.id, password)
        link = _Link(st, client, readings_topic(st.city, st.kind, st.id),
                     status_topic(st.city, st.kind, st.id), config_topic(st.city, st.kind, st.id),
                     fill_topic(st.city, st.kind, st.id))
        client.user_data_set(link)
        client.max_inflight_messages_set(self._mq.max_inflight + 4)
        client.max_queued_messages_set(0)
        client.connect_timeout = 5.0
        client.will_set(link.status_topic, self._bye(st.id), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        persistent = {"clean_start": False, "properties": session_properties()} \
            if client.protocol == mqtt.MQTTv5 else {}
        client.connect_async(self._host, self._port, keepalive=self._mq.keepalive_s,
                             **persistent)
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
        waits += [max(0.0, l.hold_until - now) for l in self._links
                  if l.connected and l.hold_until > now]
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
        delay = backoff_delay(link.attempts, self._mq.backoff_initial_s,
                              self._mq.backoff_max_s, self._rng.random)
        link.attempts += 1
        link.next_attempt = time.monotonic() + delay

    # -- paho callbacks (run in this thread, inside client.loop) ------------------------------

    def _on_connect(self, client, link: _Link, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._rlog.error(f"connack:{link.station.id}", "station %s: broker refused the "
                             "connection: %s", link.station.id, reason_code)
            self._stats.inc("mqtt.refused", station=link.station.id)
            client.disconnect()
            return
        link.connected, link.attempts, link.hold_until = True, 0, 0.0
        self._stats.inc("mqtt.connects", station=link.station.id)
        log.info("station %s: connected to %s:%d (session present: %s)", link.station.id,
                 self._host, self._port, flags.session_present)
        client.subscribe(link.config_topic, qos=1)
        if self._on_fill is not None:
            client.subscribe(link.fill_topic, qos=1)
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
        if refused(reason_code):
            self._refused(link, msg, reason_code)
            return
        if msg is None:
            return
        if link.refused is not None:
            log.info("station %s: the broker accepts its readings again", link.station.id)
            link.refused, link.refusals, self._status_urgent = None, 0, True
        self._acked.extend(msg.ids)
        self._stats.inc("published", len(msg.ids), station=link.station.id)
        self._stats.inc("messages", station=link.station.id)

    def _refused(self, link: _Link, msg: Message | None, reason_code) -> None:
        """The broker refused a publish: its readings stay queued, the station holds off."""
        st, reason = link.station.id, reason_name(reason_code)
        if msg is None:             # our status message
            self._rlog.error(f"status-refused:{st}", "station %s: the broker refused its "
                             "status on %s: %s", st, link.status_topic, reason_code)
            return
        link.resend = deque(sorted([*link.resend, msg], key=lambda m: m.seq))
        link.hold_until = time.monotonic() + backoff_delay(
            link.refusals, self._mq.backoff_initial_s, self._mq.backoff_max_s, self._rng.random)
        link.refusals += 1
        self._stats.inc("refused", len(msg.ids), station=st)
        self._stats.inc(f"refused.{reason}", len(msg.ids), station=st)
        if link.refused is None:
            self._status_urgent = True
        link.refused = reason
        self._rlog.error(f"refused:{st}", "station %s: the broker refused %d readings on %s "
                         "(%s): kept queued (%d), retry in %.1f s; check the station's MQTT "
                         "user and ACL", st, len(msg.ids), link.topic, reason_code,
                         self._queue.depth(st), link.hold_until - time.monotonic())

    def _on_message(self, client, link: _Link, message) -> None:
        if message.topic == link.config_topic:
            self._remote.apply(link.station, message.payload)
            self._publish_status(link, "online")
        elif message.topic == link.fill_topic and self._on_fill is not None:
            self._on_fill(link.station, message.payload)

    # -- readings ---------------------------------------------------------------------------

    def _fill(self, link: _Link) -> None:
        free = self._mq.max_inflight - len(link.inflight)
        if free <= 0 or time.monotonic() < link.hold_until:
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
        if link.refused is not None:
            alarms.append("publish_refused")
        refusing = [l.station.id for l in self._links if l.refused is not None]
        return {
            "v": 1, "station": st, "state": state, "agent": self._cfg.agent_id,
            "ts": iso(datetime.now(timezone.utc)),
            "queue": {"depth": depth, "oldest_ts": None if oldest is None else
                      iso(datetime.fromtimestamp(oldest, timezone.utc)),
                      "agent_depth": total, "max_readings": self._cfg.queue.max_readings,
                      "policy": self._cfg.queue.policy, "inflight": len(link.inflight)},
            "alarms": alarms,
            "refused": {"reason": link.refused, "agent_stations": refusing},
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
