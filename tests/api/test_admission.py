"""Admission (api/admission.py): at most ``limit`` requests are worked on at once, the rest
start in arrival order; long-lived streams never wait; a cancelled waiter takes no place."""
from __future__ import annotations

import asyncio

from fastapi.testclient import TestClient

from api.admission import Admission, _Fifo


class Held:
    """An ASGI app whose requests each wait until released; records start order."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.running = self.peak = 0
        self.go: dict[str, asyncio.Event] = {}

    async def __call__(self, scope, receive, send):
        name = scope["path"]
        self.started.append(name)
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await self.go.setdefault(name, asyncio.Event()).wait()
        finally:
            self.running -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _scope(path: str) -> dict:
    return {"type": "http", "method": "GET", "path": path, "headers": []}


async def _noop_receive():
    return {"type": "http.request", "body": b"", "more_body": False}


async def _sink(message):
    pass


async def _settle():
    for _ in range(20):
        await asyncio.sleep(0)


def test_requests_beyond_the_limit_start_in_arrival_order():
    async def main():
        inner = Held()
        app = Admission(inner, limit=2)
        paths = [f"/r{i}" for i in range(8)]
        tasks = []
        for p in paths:                       # arrive one after another
            tasks.append(asyncio.create_task(app(_scope(p), _noop_receive, _sink)))
            await _settle()
        assert inner.started == ["/r0", "/r1"] and inner.running == 2
        # finish them in an order unlike the arrival: who starts next is still the oldest
        for p in ["/r1", "/r0", "/r3", "/r2", "/r5", "/r4", "/r7", "/r6"]:
            inner.go.setdefault(p, asyncio.Event()).set()
            await _settle()
        await asyncio.gather(*tasks)
        assert inner.started == paths and inner.peak == 2
    asyncio.run(main())


def test_event_streams_and_probes_never_wait():
    async def main():
        inner = Held()
        app = Admission(inner, limit=1)
        busy = asyncio.create_task(app(_scope("/alerts"), _noop_receive, _sink))
        waiting = asyncio.create_task(app(_scope("/series"), _noop_receive, _sink))
        events = asyncio.create_task(app(_scope("/events"), _noop_receive, _sink))
        await _settle()
        assert inner.started == ["/alerts", "/events"]     # /series waits, /events does not
        for p in ("/alerts", "/events", "/series"):
            inner.go.setdefault(p, asyncio.Event()).set()
        await asyncio.gather(busy, waiting, events)
        assert inner.started == ["/alerts", "/events", "/series"]
    asyncio.run(main())


def test_a_cancelled_waiter_takes_no_place():
    async def main():
        gate = _Fifo(1)
        await gate.acquire()
        a = asyncio.create_task(gate.acquire())
        b = asyncio.create_task(gate.acquire())
        await _settle()
        a.cancel()                            # gave up while waiting (client went away)
        await _settle()
        gate.release()
        await _settle()
        assert b.done() and gate.free == 0 and gate.waiting == 0
        gate.release()
        assert gate.free == 1

        # cancelled in the instant it was handed the place: the place goes on to the next
        await gate.acquire()
        c = asyncio.create_task(gate.acquire())
        d = asyncio.create_task(gate.acquire())
        await _settle()
        gate.release()                        # c's future is resolved ...
        c.cancel()                            # ... and c is cancelled before it runs
        await _settle()
        assert c.cancelled() and d.done() and gate.free == 0
        gate.release()
        assert gate.free == 1 and gate.waiting == 0
    asyncio.run(main())


def test_limit_zero_is_no_admission():
    async def main():
        inner = Held()
        app = Admission(inner, limit=0)
        tasks = [asyncio.create_task(app(_scope(f"/r{i}"), _noop_receive, _sink))
                 for i in range(5)]
        await _settle()
        assert inner.running == 5
        for i in range(5):
            inner.go.setdefault(f"/r{i}", asyncio.Event()).set()
        await asyncio.gather(*tasks)
    asyncio.run(main())


def test_the_app_answers_through_admission():
    """The built app has admission in its middleware stack and answers through it."""
    from api.app import MAX_CONCURRENT, create_app
    from api.auth import KeyStore
    from core.catalogue import load_catalogue
    from core.store import open_store
    cat = load_catalogue()
    store = open_store("duckdb://:memory:", cat)
    app = create_app(store, cat, KeyStore("sqlite://"), max_concurrent=3)
    assert any(m.cls is Admission and m.kwargs == {"limit": 3} for m in app.user_middleware)
    assert MAX_CONCURRENT == 0          # off by default (docs/configuration.md)
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
    store.close()
