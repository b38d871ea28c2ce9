"""The walking skeleton's simple ingest loop: subscribe, decode, write in small batches.

Acknowledges after the write (manual ack), like the full ingest service that replaces it.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable

import paho.mqtt.client as mqtt

from core.catalogue import Catalogue
from core.store import Store
from core.wire import READINGS_FILTER, Batch, decode

log = logging.getLogger(__name__)


class SimpleIngest:
    def __init__(self, cat: Catalogue, store: Store, host: str, port: int, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.cat, self.store, self.clock = cat, store, clock
        self.received = self.stored = self.rejected = 0
        self._q: queue.Queue = queue.Queue(maxsize=50_000)
        self._stop = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="fenwei-demo-ingest",
                                  clean_session=False, manual_ack=True)
        self.client.on_connect = lambda c, u, f, rc, p=None: c.subscribe(READINGS_FILTER, qos=1)
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.writer = threading.Thread(target=self._write_loop, name="demo-ingest", daemon=True)

    def start(self) -> None:
        self.client.loop_start()
        self.writer.start()

    def _on_message(self, client, userdata, msg) -> None:
        self._q.put((msg.mid, msg.qos, decode(msg.topic, msg.payload, self.cat, now=self.clock())))

    def _write_loop(self) -> None:
        while not self._stop.is_set() or not self._q.empty():
            items = self._drain()
            if not items:
                continue
            readings = [r for _, _, b in items if isinstance(b, Batch) for r in b.readings]
            self.rejected += sum(1 for _, _, b in items if not isinstance(b, Batch))
            try:
                self.store.write(readings)
            except Exception:  # noqa: BLE001 - the skeleton retries by redelivery
                log.exception("store write failed; messages stay unacknowledged")
                continue
            self.received += len(items)
            self.stored += len(readings)
            for mid, qos, _ in items:
                self.client.ack(mid, qos)

    def _drain(self) -> list:
        try:
            items = [self._q.get(timeout=0.2)]
        except queue.Empty:
            return []
        while len(items) < 5000:
            try:
                items.append(self._q.get_nowait())
            except queue.Empty:
                break
        return items

    def stop(self) -> None:
        self._stop.set()
        self.writer.join(10)
        self.client.loop_stop()
        self.client.disconnect()
