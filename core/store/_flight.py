"""Identical reads in flight at once share one query (a "single flight").

A dashboard's viewers ask the same questions together: the same city's last 30 days, the
same station's week. While one read runs, an identical read waits for it and takes a copy
of its answer instead of asking the database again. Each caller gets its own frame (callers
may change it): a read that nobody joined returns its answer as it is, a shared answer is
copied for each caller, the first among them included (a copy of a week's frame costs the
API ~0.5 ms of the interpreter; py-spy --gil of `fenwei bench api`'s 50 readers showed these
copies at 4 % of the server). A read begun after a write of this store returned never shares an
answer begun before that write: every write moves the store to a new generation, and only
reads of the same generation share.
"""
from __future__ import annotations

import threading
from typing import Callable, Hashable

import pandas as pd


class _Call:
    __slots__ = ("done", "value", "error", "joined")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: pd.DataFrame | None = None
        self.error: BaseException | None = None
        self.joined = 0          # callers waiting for this read's answer


class Flights:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[Hashable, _Call] = {}
        self._generation = 0
        self.shared = 0   # reads answered by another's query (for tests and metrics)

    def wrote(self) -> None:
        """A write returned: later reads must not share answers begun before it."""
        with self._lock:
            self._generation += 1

    def do(self, key: Hashable, read: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        try:
            hash(key)
        except TypeError:
            return read()
        with self._lock:
            key = (self._generation, key)
            call = self._calls.get(key)
            leader = call is None
            if leader:
                call = self._calls[key] = _Call()
            else:
                self.shared += 1
                call.joined += 1
        if leader:
            try:
                call.value = read()
            except BaseException as exc:
                call.error = exc
                raise
            finally:
                with self._lock:
                    del self._calls[key]      # from here on nobody can join
                    alone = call.joined == 0
                call.done.set()
            if alone:                         # nobody else holds this frame
                return call.value
        else:
            call.done.wait()
            if call.error is not None:
                raise call.error
        return call.value.copy()


def frozen(value) -> Hashable:
    """A hashable stand-in for a read's arguments (lists and dicts as tuples)."""
    if isinstance(value, dict):
        return tuple(sorted((k, frozen(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(frozen(v) for v in value)
    return value


class SharedReads:
    """The port's reads, each through the store's :class:`Flights`; an adapter implements
    ``_raw``, ``_aggregate``, ``_latest``, ``_read_frame`` and ``_latest_frame`` and calls
    ``self._flights.wrote()`` when a write returns."""

    _flights: Flights

    def raw(self, kind, stations, params, start, end, *, limit=None) -> pd.DataFrame:
        return self._flights.do(
            ("raw", kind, frozen(stations), frozen(params), start, end, limit),
            lambda: self._raw(kind, stations, params, start, end, limit=limit))

    def aggregate(self, kind, params, start, end, *, every="1h", by="station", keys=None
                  ) -> pd.DataFrame:
        return self._flights.do(
            ("aggregate", kind, frozen(params), start, end, every, by, frozen(keys)),
            lambda: self._aggregate(kind, params, start, end, every=every, by=by, keys=keys))

    def latest(self, kind, stations=None) -> pd.DataFrame:
        return self._flights.do(("latest", kind, frozen(stations)),
                                lambda: self._latest(kind, stations))

    def read_frame(self, measurement, start, end, where=None) -> pd.DataFrame:
        return self._flights.do(("read_frame", measurement, start, end, frozen(where)),
                                lambda: self._read_frame(measurement, start, end, where))

    def latest_frame(self, measurement, start, end, where=None, *, by: str = "station",
                     present: str | None = None) -> pd.DataFrame:
        return self._flights.do(
            ("latest_frame", measurement, start, end, frozen(where), by, present),
            lambda: self._latest_frame(measurement, start, end, where, by=by,
                                       present=present))
