"""What every simulated device shares: a schedule of report streams, the link, buffering.

A device walks its own schedule in simulated time. At each due event it checks its link
faults: during a ``dropout`` it produces nothing; during a ``comms_outage`` it drops the link
and buffers bufferable reports (history, not real-time) to back-fill them, in order, as soon
as the link is back; during a ``comms_loss`` it drops the link and loses what falls due (its
history still holds the data: the platform gets it only by asking). Reports that find the link down for any other reason are buffered too.
"""
from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ._clock import SimClock
from ._faults import StationFaults
from ._link import Link

log = logging.getLogger(__name__)

REPORT_GRACE_S = 300.0
#: frame, bufferable, QN awaiting a 9014 (or None), frame to resend if different (line noise)
Emit = tuple[bytes, bool, "str | None", "bytes | None"]


@dataclass
class Stream:
    """Events at ``next`` then every ``step`` simulated seconds; ``make(t)`` -> frames.

    ``until`` defaults to the end of the run; a report stream whose periods end at the run's
    end sets it a little later (``end + REPORT_GRACE_S``) so the last period is reported."""

    name: str
    next: float
    step: float
    make: Callable[[float], list[Emit]]
    until: float = math.inf  # no events at or after this (reports: end + their send delay)


@dataclass
class DeviceStats:
    sent: Counter = field(default_factory=Counter)  # frames by stream name
    buffered: int = 0
    backfilled: int = 0
    lost: int = 0  # real-time frames lost while the link was down, or buffer overflow
    skipped_late: int = 0  # real-time frames skipped because the device fell behind
    retries: int = 0
    ack_failures: int = 0
    acked: int = 0
    commands: Counter = field(default_factory=Counter)
    connects: int = 0

    def merge(self, other: "DeviceStats") -> None:
        for k, v in vars(other).items():
            if isinstance(v, Counter):
                getattr(self, k).update(v)
            else:
                setattr(self, k, getattr(self, k) + v)


class Device:
    """Base class: subclasses set ``name`` and implement ``streams`` and ``on_data``."""

    name: str
    faults: StationFaults
    buffer_limit: int = 20000
    ack_timeout_s: float = 10.0
    retries: int = 3
    connect_wait_real_s: float = 2.0
    reports: frozenset[str] = frozenset()  # streams reporting a period that ends at the event
    max_unacked: int = 8  # uploads awaiting a 9014 before the device waits (back-pressure)

    def __init__(self) -> None:
        self.stats = DeviceStats()
        self.backlog: deque[tuple[bytes, str, str | None, bytes | None]] = deque()
        self.pending: dict[str, list] = {}  # qn -> [frame, real deadline, tries]
        self._pending_changed: asyncio.Event | None = None
        self.link: Link | None = None
        self.clock: SimClock | None = None
        self.t = 0.0  # the device's current simulated time
        self.ack_floor_real_s = 0.5
        self.behind_limit_s = math.inf  # skip real-time frames older than this (sim s)

    # -- subclass hooks ---------------------------------------------------------------------
    def streams(self, start: float, end: float) -> list[Stream]:
        raise NotImplementedError

    def on_data(self, data: bytes) -> None:
        """Bytes from the platform."""

    def on_connect(self) -> None:
        """Called after each (re)connection, before back-filling."""

    # -- running -----------------------------------------------------------------------------
    async def run(self, clock: SimClock, target: tuple[str, int], start: float, end: float,
                  *, seed: int = 0) -> DeviceStats:
        self.clock, self.t = clock, start
        self._pending_changed = asyncio.Event()
        self.link = Link(target, self.on_data, name=self.name, seed=seed)
        retry_task = asyncio.create_task(self._retry_loop())
        try:
            await self._schedule(start, end)
            await self._finish()
        finally:
            retry_task.cancel()
            await self.link.close()
            self.stats.connects = self.link.connects
        return self.stats

    async def _schedule(self, start: float, end: float) -> None:
        streams = [s for s in self.streams(start, end) if s.step > 0]
        for s in streams:
            s.until = min(s.until, end + (REPORT_GRACE_S if s.name in self.reports else 0.0))
        while streams:
            stream = min(streams, key=lambda s: s.next)
            t = stream.next
            if t >= stream.until:
                streams.remove(stream)
                continue
            await self.clock.sleep_until(t)
            while len(self.pending) >= self.max_unacked:
                await self._wait_pending_change()
            self.t = t
            stream.next = t + stream.step
            state = self.faults.link_state(t) if self.faults else None
            if state == "dropout":
                continue
            if stream.name == "rtd" and self.clock.now() - t > self.behind_limit_s:
                self.stats.skipped_late += 1
                continue
            if state in ("comms_outage", "comms_loss"):
                if self.link.up:
                    await self.link.close()
                if state == "comms_loss":
                    self.stats.lost += 1
                    continue
            elif not self.link.up:
                await self._reconnect()
            for item in stream.make(t):
                self._emit(stream.name, item)
            if self.link.up and self.backlog:
                self._backfill()
            await self.link.drain()

    async def _reconnect(self) -> None:
        loop = asyncio.get_running_loop()
        if await self.link.connect(deadline=loop.time() + self.connect_wait_real_s):
            self.on_connect()
            self._backfill()

    def _emit(self, stream: str, item: Emit) -> None:
        frame, bufferable, qn, resend = item
        if self.link.up and not self.backlog and self.link.send(frame):
            self.stats.sent[stream] += 1
            if qn is not None:
                self._await_ack(qn, resend or frame)
        elif bufferable:
            if len(self.backlog) >= self.buffer_limit:
                self.backlog.popleft()
                self.stats.lost += 1
            self.backlog.append((frame, stream, qn, resend))
            self.stats.buffered += 1
        else:
            self.stats.lost += 1

    def _backfill(self) -> None:
        while self.backlog and self.link.up:
            frame, stream, qn, resend = self.backlog.popleft()
            self.link.send(frame)
            self.stats.sent[stream] += 1
            self.stats.backfilled += 1
            if qn is not None:
                self._await_ack(qn, resend or frame)

    def catch_up(self) -> None:
        """Bring ``t`` to the clock's now (a command answered between two events is answered at
        the time it arrives, not at the last event's)."""
        if self.clock is not None and not self.clock.unbounded:
            self.t = max(self.t, self.clock.now())

    def send_now(self, frame: bytes, what: str) -> None:
        """Replies to the platform: sent at once, never buffered."""
        if self.link is not None and self.link.send(frame):
            self.stats.sent[what] += 1

    # -- acknowledgements (HJ 212 9014) -------------------------------------------------------
    def _timeout_real(self) -> float:
        return max(self.clock.real_s(self.ack_timeout_s), self.ack_floor_real_s)

    def _await_ack(self, qn: str, frame: bytes) -> None:
        deadline = asyncio.get_running_loop().time() + self._timeout_real()
        self.pending[qn] = [frame, deadline, 0]
        self._pending_changed.set()

    def acked(self, qn: str | None) -> None:
        if qn is not None and self.pending.pop(qn, None) is not None:
            self.stats.acked += 1
            self._pending_changed.set()

    async def _wait_pending_change(self) -> None:
        self._pending_changed.clear()
        try:
            await asyncio.wait_for(self._pending_changed.wait(), self._timeout_real())
        except TimeoutError:
            pass

    async def _retry_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self.pending:
                self._pending_changed.clear()
                await self._pending_changed.wait()
                continue
            qn, entry = min(self.pending.items(), key=lambda kv: kv[1][1])
            wait = entry[1] - loop.time()
            if wait > 0:
                self._pending_changed.clear()
                try:
                    await asyncio.wait_for(self._pending_changed.wait(), wait)
                except TimeoutError:
                    pass
                continue
            if entry[2] >= self.retries:
                del self.pending[qn]
                self.stats.ack_failures += 1
                self._pending_changed.set()
                continue
            entry[2] += 1
            entry[1] = loop.time() + self._timeout_real()
            if self.link.send(entry[0]):
                self.stats.retries += 1

    async def _finish(self) -> None:
        """After the schedule: push out any backlog and wait (bounded) for outstanding acks."""
        if self.backlog and not self.link.up:
            await self._reconnect()
        self._backfill()
        await self.link.drain()
        loop = asyncio.get_running_loop()
        limit = loop.time() + self._timeout_real() * (self.retries + 1) + 0.5
        while self.pending and loop.time() < limit:
            await asyncio.sleep(0.01)
