"""Reassembly of multi-packet (M3) messages keyed by station and function."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ._elements import parse_body
from ._errors import FrameError, Reason
from ._model import Frame

Item = Frame | FrameError


@dataclass(slots=True)
class _Pending:
    total: int
    touched: float
    parts: dict[int, Frame] = field(default_factory=dict)
    size: int = 0


class Reassembler:
    """Join the packets of multi-packet messages into one complete :class:`Frame`.

    ``add`` takes any decoded frame: complete frames pass straight through, packets are held
    until every sequence number 1..total has arrived. State is bounded: at most
    ``max_pending`` messages (the least recently active is evicted), ``max_bytes`` per message,
    and a message with no new packet for ``ttl`` seconds of ``clock`` expires. Drops are
    returned as :class:`FrameError` items (``evicted``, ``expired``, ``incomplete``, ``oversize``,
    ``bad_field``) so they can be counted; nothing is raised.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        ttl: float = 300.0,
        max_pending: int = 256,
        max_bytes: int = 1 << 20,
    ) -> None:
        self._clock = clock
        self._ttl = ttl
        self._max_pending = max_pending
        self._max_bytes = max_bytes
        self._pending: dict[tuple[str, int], _Pending] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, frame: Frame) -> list[Item]:
        out: list[Item] = self.expire()
        if frame.packets is None:
            out.append(frame)
            return out
        key = (frame.station, frame.function)
        entry = self._entry(key, frame, out)
        old = entry.parts.get(frame.packets[1])
        entry.parts[frame.packets[1]] = frame
        entry.size += len(frame.body) - (len(old.body) if old else 0)
        if entry.size > self._max_bytes:
            out.append(self._drop(key, Reason.OVERSIZE, f"over {self._max_bytes} bytes"))
        elif len(entry.parts) == entry.total:
            del self._pending[key]
            out.append(_join(entry))
        return out

    def expire(self) -> list[FrameError]:
        """Drop messages idle for longer than ``ttl``; call it periodically when idle."""
        now, out = self._clock(), []
        for key in list(self._pending):
            if now - self._pending[key].touched <= self._ttl:
                break  # ordered by last activity
            out.append(self._drop(key, Reason.EXPIRED, f"no packet for {self._ttl:g} s"))
        return out

    def _entry(self, key: tuple[str, int], frame: Frame, out: list[Item]) -> _Pending:
        total, seq = frame.packets  # type: ignore[misc]
        entry = self._pending.pop(key, None)
        if entry is not None and (entry.total != total or (seq == 1 and 1 in entry.parts)):
            self._pending[key] = entry
            out.append(self._drop(key, Reason.INCOMPLETE, "superseded by a new message"))
            entry = None
        if entry is None:
            if len(self._pending) >= self._max_pending:
                oldest = next(iter(self._pending))
                out.append(self._drop(oldest, Reason.EVICTED, f"over {self._max_pending} pending"))
            entry = _Pending(total=total, touched=self._clock())
        entry.touched = self._clock()
        self._pending[key] = entry  # re-inserted last: dict order = activity order
        return entry

    def _drop(self, key: tuple[str, int], reason: Reason, why: str) -> FrameError:
        entry = self._pending.pop(key)
        missing = entry.total - len(entry.parts)
        return FrameError(reason, f"{why}; {missing} of {entry.total} packets missing",
                          station=key[0], function=key[1])


def _join(entry: _Pending) -> Item:
    parts = [entry.parts[seq] for seq in range(1, entry.total + 1)]
    first, last = parts[0], parts[-1]
    body = b"".join(part.body for part in parts)
    try:
        serial, sent, elements = parse_body(
            body, first.function, up=first.up, first=True, complete=True
        )
    except FrameError as exc:
        exc.station, exc.function = first.station, first.function
        return exc
    return replace(first, end=last.end, serial=serial, sent=sent, elements=elements,
                   packets=None, body=body)
