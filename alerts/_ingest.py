"""Readings in: a shared MQTT subscription (``$share/alerts/...``), decoded and handed on in
batches; messages are acknowledged only after their batch is processed.

The subscription has a stable client id and a persistent session, so readings published
while the service restarts wait in the broker for it. A batch whose evaluation fails (the
state database is down, a rule raises) is retried in-process with the one backoff policy
until it succeeds: its messages stay unacknowledged meanwhile (the broker sends no more than
its in-flight window) and the stall is visible (``stalled_since``, the
``fenwei_alerts_intake_stalled`` gauge). A broker redelivers unacknowledged messages only on
a new connection, so giving up on a batch on a live connection would stop intake for good.
"""
from __future__ import annotations

import logging
import queue
import random
import threading
import time
import uuid
from typing import Callable

from core.backoff import backoff_delay
from core.mqtt import TlsFiles
from core.wire import READINGS_FILTER, Batch, decode

from .channels.mqtt import mqtt_client

log = logging.getLogger(__name__)
SHARED_FILTER = f"$share/alerts/{READINGS_FILTER}"


class ReadingSubscriber:
    """``client_id`` names a persistent session (None: a random id and a clean session, for
    throwaway tools); ``metrics``: an :class:`alerts._metrics.AlertMetrics` or None."""

    def __init__(self, url: str, catalogue, handler, clock, *, client_id: str | None = None,
                 max_batch: int = 2000, topic: str = SHARED_FILTER,
                 tls: TlsFiles | None = None, retry_initial_s: float = 0.5,
                 retry_max_s: float = 30.0, rand: Callable[[], float] = random.random,
                 metrics=None) -> None:
        self.topic = topic
        self.cat, self.handler, self.clock, self.max_batch = catalogue, handler, clock, max_batch
        self.retry_initial, self.retry_max, self.rand = retry_initial_s, retry_max_s, rand
        self.metrics = metrics
        self._q: queue.Queue = queue.Queue(100_000)
        self._stop = threading.Event()
        self._closing = False
        self.subscribed = threading.Event()
        self.received = self.rejected = self.failures = 0
        self.stalled_since: float | None = None     # epoch seconds (wall clock)
        self.last_error: str | None = None
        cid = client_id or f"fenwei-alerts-{uuid.uuid4().hex[:8]}"
        self.client_id = cid
        self.client = mqtt_client(url, cid, clean=client_id is None, manual_ack=True, tls=tls)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = self._on_message
        self._worker = threading.Thread(target=self._loop, name="alerts-readings", daemon=True)

    def _on_connect(self, client, userdata, flags, rc, props=None) -> None:
        client.subscribe(self.topic, qos=1)

    def _on_message(self, client, userdata, msg) -> None:
        if not self._closing:      # after stop() begins: left unacknowledged, redelivered
            self._q.put(msg)       # to the persistent session at the next start

    def start(self) -> None:
        self._worker.start()
        self.client.loop_start()

    def stop(self) -> None:
        """Stop taking messages, finish (and acknowledge) those taken, then disconnect; a batch
        that is stalled stays unacknowledged for the next start."""
        self._closing = True
        self._stop.set()
        self._worker.join(30)
        self.client.disconnect()
        self.client.loop_stop()

    @property
    def stalled(self) -> bool:
        return self.stalled_since is not None

    def stats(self) -> dict:
        return {"client_id": self.client_id, "received": self.received,
                "rejected": self.rejected, "failures": self.failures,
                "stalled": self.stalled,
                "stalled_s": round(time.time() - self.stalled_since, 1) if self.stalled
                else 0.0, "last_error": self.last_error}

    def _drain(self) -> list:
        try:
            items = [self._q.get(timeout=0.1)]
        except queue.Empty:
            return []
        while len(items) < self.max_batch:
            try:
                items.append(self._q.get_nowait())
            except queue.Empty:
                break
        return items

    def _loop(self) -> None:
        while not (self._stop.is_set() and self._q.empty()):
            msgs = self._drain()
            if not msgs:
                continue
            if not self._evaluate(self._decode(msgs)):
                return               # stopped while stalled: nothing acknowledged
            self.received += len(msgs)
            if self.metrics is not None:
                self.metrics.messages.inc(len(msgs))
            for m in msgs:
                try:
                    self.client.ack(m.mid, m.qos)
                except Exception:  # noqa: BLE001 - the session was lost; redelivery is harmless
                    pass

    def _decode(self, msgs: list) -> list:
        now = self.clock.now().timestamp()
        readings = []
        for m in msgs:
            b = decode(m.topic, m.payload, self.cat, now=now)
            if isinstance(b, Batch):
                readings.extend(b.readings)
            else:
                self.rejected += 1
                if self.metrics is not None:
                    self.metrics.rejected.inc()
                log.debug("rejected readings message on %s: %s", m.topic, b.reason)
        return readings

    def _evaluate(self, readings: list) -> bool:
        """Hand the batch on until it succeeds (True), or until stop() (False)."""
        attempt = 0
        while True:
            try:
                self.handler(readings)
            except Exception as exc:  # noqa: BLE001 - retried: unacked messages never return
                self._failed(exc, attempt, len(readings))                 # on a live session
                if self._stop.wait(backoff_delay(attempt, self.retry_initial, self.retry_max,
                                                 self.rand)):
                    log.warning("stopping with %d readings not evaluated: the broker "
                                "redelivers them to this session", len(readings))
                    return False
                attempt += 1
                continue
            if self.stalled:
                log.warning("readings intake resumed after %.1f s stalled (%d failed "
                            "attempts)", time.time() - self.stalled_since, attempt)
                self.stalled_since = None
                if self.metrics is not None:
                    self.metrics.intake_stalled.set(0)
            return True

    def _failed(self, exc: Exception, attempt: int, n: int) -> None:
        self.failures += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:500]
        if self.metrics is not None:
            self.metrics.intake_failures.inc()
            self.metrics.intake_stalled.set(1)
        if self.stalled_since is None:
            self.stalled_since = time.time()
            log.exception("evaluating %d readings failed; intake stalled, retrying (messages "
                          "stay unacknowledged)", n)
        else:
            log.warning("evaluating %d readings failed again (attempt %d): %s", n, attempt + 1,
                        self.last_error)
