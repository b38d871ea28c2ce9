"""Building the paho client (``core.mqtt``): protocol version, persistent session, receive
maximum; and the network loop that drives it through paho's public external-loop API.

Why a loop of our own: ``loop_start()``'s thread handles one packet per ``select`` and
runs its keep-alive bookkeeping (``loop_misc``: clock, locks) after every packet, and each
``ack()`` from another thread also writes a byte to its wake-up socket pair. At thousands of
one-reading messages a second that is most of paho's cost. :class:`NetworkLoop` uses only
the documented calls for an application's own loop (``socket``, ``loop_read``,
``loop_write``, ``loop_misc``, ``want_write``, ``reconnect``, ``on_socket_register_write``):
after one ``select`` it reads every packet that has arrived, runs ``loop_misc`` once per
wake-up, and the writer wakes it once per acknowledged batch. No private method of paho is
overridden or called, so a paho point release cannot break it silently.
"""
from __future__ import annotations

import logging
import os
import random
import select
import socket
import threading
import time
from typing import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

import core.mqtt as core_mqtt
from core.mqtt import RECONNECT_DELAY_S, TlsFiles

from ._config import IngestConfig

log = logging.getLogger(__name__)

BURST = 2000          # packets read after one select before writes and keep-alive run
IDLE_S = 0.5          # select timeout: keep-alive and reconnect checks at least this often


def make_client(cfg: IngestConfig) -> mqtt.Client:
    """A manual-ack client with a fixed id (the broker keeps its session and queue)."""
    client = core_mqtt.make_client(cfg.mqtt_url, client_id=cfg.client_id, clean_session=False,
                                   protocol=cfg.mqtt_protocol, manual_ack=True,
                                   tls=TlsFiles.from_settings(cfg))
    # v3.1.1 brokers bound in-flight messages themselves (mosquitto: max_inflight_messages)
    client.max_inflight_messages_set(20)
    return client


def connect_args(cfg: IngestConfig) -> dict:
    args = core_mqtt.connect_args(cfg.mqtt_url, keepalive=cfg.keepalive_s)
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


class NetworkLoop:
    """Drives ``client`` (after ``connect_async``) in a thread of its own, reconnecting with
    backoff until :meth:`stop`. ``progress()`` is a counter that grows with every message
    delivered to ``on_message``: a ``loop_read`` that did not move it ends a burst."""

    def __init__(self, client: mqtt.Client, progress: Callable[[], int], *,
                 delays: tuple[float, float] = RECONNECT_DELAY_S) -> None:
        self.client, self._progress, self._delays = client, progress, delays
        self._rfd, self._wfd = os.pipe()
        os.set_blocking(self._rfd, False)
        os.set_blocking(self._wfd, False)
        self._woken = False
        self._stopping = threading.Event()
        self._disconnected = False     # DISCONNECT queued: end once it is written
        self._thread = threading.Thread(target=self._run, name="ingest-mqtt", daemon=True)
        client.on_socket_register_write = lambda c, u, s: self.wake()

    def start(self) -> "NetworkLoop":
        self._thread.start()
        return self

    def wake(self) -> None:
        """Make the loop write what is queued (any thread; one pipe byte per wake-up)."""
        if not self._woken:
            self._woken = True
            try:
                os.write(self._wfd, b"x")
            except OSError:               # full (a wake-up is pending) or closed
                pass

    def stop(self, timeout: float = 10.0) -> None:
        """Send what is queued (acknowledgements first), then DISCONNECT, and end."""
        self._stopping.set()              # no reconnecting from here on
        self.client.disconnect()          # queued after the PUBACKs
        self._disconnected = True
        self._woken = False
        self.wake()
        self._thread.join(timeout)
        for fd in (self._rfd, self._wfd):
            try:
                os.close(fd)
            except OSError:
                pass

    # -- the loop thread ------------------------------------------------------------------
    def _run(self) -> None:
        failures = 0
        while True:
            c = self.client
            if c.socket() is None:
                if self._stopping.is_set():
                    return
                if failures:
                    self._wait(failures)
                failures += 1
                try:
                    c.reconnect()
                except (OSError, ValueError) as exc:
                    log.warning("cannot connect to the broker: %s", exc)
                    continue
            try:
                if self._cycle(c):
                    failures = 0
            except Exception:  # noqa: BLE001 - the loop must survive; paho reconnects
                log.exception("MQTT network loop error; reconnecting")
                self._close(c)
            if self._disconnected and (c.socket() is None or not c.want_write()):
                return

    def _cycle(self, c: mqtt.Client) -> bool:
        """One select and what it found; True when the connection works."""
        sock = c.socket()
        if sock is None:
            return False
        timeout = 0.0 if getattr(sock, "pending", lambda: 0)() else IDLE_S
        try:
            r, w, _ = select.select([sock, self._rfd], [sock] if c.want_write() else [], [],
                                    timeout)
        except (OSError, ValueError, TypeError):
            self._close(c)
            return False
        if self._rfd in r:
            try:
                os.read(self._rfd, 4096)
            except BlockingIOError:
                pass
            self._woken = False           # after the read: a later wake() writes again
        if sock in r or timeout == 0.0:
            for _ in range(BURST):
                before = self._progress()
                if c.loop_read() != mqtt.MQTT_ERR_SUCCESS or c.socket() is not sock:
                    return False
                if self._progress() == before:
                    break
        if c.want_write() and c.loop_write() != mqtt.MQTT_ERR_SUCCESS:
            return False
        return c.loop_misc() == mqtt.MQTT_ERR_SUCCESS and c.is_connected()

    def _close(self, c: mqtt.Client) -> None:
        """Cut a broken connection so that paho notices it (its read fails: it closes the
        socket and calls on_disconnect); the loop then reconnects."""
        sock = c.socket()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.loop_read()

    def _wait(self, failures: int) -> None:
        lo, hi = self._delays
        delay = min(hi, lo * 2 ** min(failures - 1, 16))
        self._stopping.wait(delay * (0.5 + random.random() / 2))
