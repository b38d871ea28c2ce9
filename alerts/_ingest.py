"""Readings in: a shared MQTT subscription (``$share/alerts/...``), decoded and handed on in
batches; messages are acknowledged only after their batch is processed."""
from __future__ import annotations

import logging
import queue
import threading
import uuid

from core.wire import READINGS_FILTER, Batch, decode

from .channels.mqtt import mqtt_client

log = logging.getLogger(__name__)
SHARED_FILTER = f"$share/alerts/{READINGS_FILTER}"


class ReadingSubscriber:
    def __init__(self, url: str, catalogue, handler, clock, *, client_id: str | None = None,
                 max_batch: int = 2000, topic: str = SHARED_FILTER) -> None:
        self.topic = topic
        self.cat, self.handler, self.clock, self.max_batch = catalogue, handler, clock, max_batch
        self._q: queue.Queue = queue.Queue(100_000)
        self._stop = threading.Event()
        self.subscribed = threading.Event()
        self.received = self.rejected = 0
        cid = client_id or f"fenwei-alerts-{uuid.uuid4().hex[:8]}"
        self.client = mqtt_client(url, cid, clean=client_id is None)
        self.client.manual_ack_set(True)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = lambda c, u, m: self._q.put(m)
        self._worker = threading.Thread(target=self._loop, name="alerts-readings", daemon=True)

    def _on_connect(self, client, userdata, flags, rc, props=None) -> None:
        client.subscribe(self.topic, qos=1)

    def start(self) -> None:
        self._worker.start()
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self._stop.set()
        self._worker.join(30)

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
            now = self.clock.now().timestamp()
            readings = []
            for m in msgs:
                b = decode(m.topic, m.payload, self.cat, now=now)
                if isinstance(b, Batch):
                    readings.extend(b.readings)
                else:
                    self.rejected += 1
                    log.debug("rejected readings message on %s: %s", m.topic, b.reason)
            try:
                self.handler(readings)
            except Exception:  # noqa: BLE001 - unacked messages come back after a reconnect
                log.exception("processing %d readings failed; not acknowledged", len(readings))
                continue
            self.received += len(msgs)
            for m in msgs:
                try:
                    self.client.ack(m.mid, m.qos)
                except Exception:  # noqa: BLE001 - the session was lost; redelivery is harmless
                    pass
