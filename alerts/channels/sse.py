"""In-process pub/sub for server-sent events (the API exposes it).

Subscribers get a bounded queue; a subscriber that stops reading loses its oldest events
(it can re-read the state from the API) and never slows the dispatcher down.
"""
from __future__ import annotations

import json
import queue
import threading

from ._base import Channel, Delivery, Receipt


class Broadcaster:
    def __init__(self, maxsize: int = 1000) -> None:
        self._subs: set[queue.Queue] = set()
        self._lock = threading.Lock()
        self.maxsize = maxsize

    def subscribe(self) -> queue.Queue:
        q: queue.Queue = queue.Queue(self.maxsize)
        with self._lock:
            self._subs.add(q)
        return q

    def unsubscribe(self, q: queue.Queue) -> None:
        with self._lock:
            self._subs.discard(q)

    def publish(self, event: dict) -> int:
        with self._lock:
            subs = list(self._subs)
        for q in subs:
            while True:
                try:
                    q.put_nowait(event)
                    break
                except queue.Full:
                    try:
                        q.get_nowait()
                    except queue.Empty:
                        pass
        return len(subs)

    @staticmethod
    def format(event: dict) -> str:
        """One server-sent-events frame."""
        data = json.dumps(event, ensure_ascii=False)
        return f"id: {event.get('idempotency_key', '')}\nevent: {event.get('event', 'message')}" \
               f"\ndata: {data}\n\n"


class SseChannel(Channel):
    name = "sse"

    def __init__(self, broadcaster: Broadcaster) -> None:
        self.broadcaster = broadcaster

    def send(self, d: Delivery) -> Receipt:
        n = self.broadcaster.publish(d.body)
        return Receipt(None, f"{n} subscribers")
