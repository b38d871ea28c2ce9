"""Admission: at most ``limit`` requests are worked on at once; the rest wait their turn in
arrival order (pure ASGI, outside every other middleware but the request counter).

Why: the API's work is mostly CPU in one interpreter. Forty requests at once (Starlette's
thread pool) share it, each taking about forty times its own work, and a heavy one forty
times its larger work; worked a few at a time in arrival order, every request waits about
the same, and a flood of heavy requests holds only ``limit`` answers in memory at once.
Measured with ``fenwei bench api`` (50 readers; docs/services/api.md): on DuckDB a lower p99
in some runs, on InfluxDB fewer requests a second (a request waiting on influxd holds its
place), all within this machine's run-to-run noise, so it is off by default
(``[api] max_concurrent = 0``).

Long-lived streams (``/events``, server-sent events) and the probes never take a place:
a stream would hold it for hours.
"""
from __future__ import annotations

import asyncio
from collections import deque

UNGATED = frozenset({"/events", "/health", "/ready"})


class _Fifo:
    """A counting gate that hands a freed place to the longest waiter (asyncio's Semaphore
    lets a newcomer take a place freed before the woken waiter runs)."""

    def __init__(self, places: int) -> None:
        self.free = places
        self.waiters: deque[asyncio.Future] = deque()

    async def acquire(self) -> None:
        if self.free > 0 and not self.waiters:
            self.free -= 1
            return
        fut = asyncio.get_running_loop().create_future()
        self.waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()          # handed a place as it was cancelled: pass it on
            else:
                self.waiters.remove(fut)
            raise

    def release(self) -> None:
        while self.waiters:
            fut = self.waiters.popleft()
            if not fut.done():
                fut.set_result(None)    # the place goes straight to the waiter
                return
        self.free += 1

    @property
    def waiting(self) -> int:
        return len(self.waiters)


class Admission:
    def __init__(self, app, limit: int) -> None:
        self.app, self.limit = app, limit
        self._gates: dict[int, _Fifo] = {}      # per event loop (tests run several)

    def _gate(self) -> _Fifo:
        key = id(asyncio.get_running_loop())
        gate = self._gates.get(key)
        if gate is None:
            if len(self._gates) > 16:
                self._gates.clear()
            gate = self._gates[key] = _Fifo(self.limit)
        return gate

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or self.limit <= 0 or scope["path"] in UNGATED:
            return await self.app(scope, receive, send)
        gate = self._gate()
        await gate.acquire()
        try:
            await self.app(scope, receive, send)
        finally:
            gate.release()
