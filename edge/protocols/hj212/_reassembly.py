"""Reassembly of split uploads (PNUM/PNO) by MN + CN + DataTime.

Each part carries its own QN and a complete CP (see the standard's example), so parts are merged
factor by factor, never by concatenating CP text.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from ._model import FLAG_SPLIT, Factor, Packet

GroupKey = tuple[str, str, datetime | None, int]


@dataclass(slots=True)
class ReassemblerStats:
    completed: int = 0  # merged packets returned
    expired: int = 0  # groups dropped after the timeout
    evicted: int = 0  # groups dropped because max_pending was reached
    duplicates: int = 0  # parts received twice (the later one wins)


@dataclass(slots=True)
class _Group:
    born: float
    parts: dict[int, Packet] = field(default_factory=dict)


class Reassembler:
    """Collect split parts; :meth:`add` returns the merged packet once all PNUM parts arrived.

    At most ``max_pending`` incomplete groups are kept (the oldest is evicted first); a group
    older than ``timeout`` seconds of ``clock`` (injectable, default ``time.monotonic``) expires.
    """

    def __init__(
        self,
        *,
        max_pending: int = 256,
        timeout: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_pending < 1 or timeout <= 0:
            raise ValueError("max_pending must be >= 1 and timeout > 0")
        self._max_pending, self._timeout, self._clock = max_pending, timeout, clock
        self._groups: dict[GroupKey, _Group] = {}
        self.stats = ReassemblerStats()

    def __len__(self) -> int:
        return len(self._groups)

    def add(self, packet: Packet) -> Packet | None:
        """Feed a decoded packet; unsplit packets come straight back, parts when complete."""
        if packet.pnum is None or packet.pnum <= 1:
            return packet
        self.expire()
        key = (packet.mn, packet.cn, packet.data_time, packet.pnum)
        group = self._groups.get(key)
        if group is None:
            group = self._new_group(key)
        self.stats.duplicates += packet.pno in group.parts
        group.parts[packet.pno] = packet
        if len(group.parts) < packet.pnum:
            return None
        del self._groups[key]
        self.stats.completed += 1
        return merge_parts(group.parts[n] for n in sorted(group.parts))

    def expire(self) -> list[list[Packet]]:
        """Drop groups older than the timeout; return their (incomplete) parts."""
        deadline = self._clock() - self._timeout
        old = [key for key, group in self._groups.items() if group.born <= deadline]
        self.stats.expired += len(old)
        return [list(self._groups.pop(key).parts.values()) for key in old]

    def _new_group(self, key: GroupKey) -> _Group:
        if len(self._groups) >= self._max_pending:
            del self._groups[next(iter(self._groups))]  # dicts keep insertion order: oldest
            self.stats.evicted += 1
        group = self._groups[key] = _Group(self._clock())
        return group


def merge_parts(parts: Iterable[Packet]) -> Packet:
    """Merge split parts (in PNO order) into one packet; header and QN from the first part."""
    parts = list(parts)
    first = parts[0]
    flag = None if first.flag is None else first.flag & ~FLAG_SPLIT
    merged = replace(first, flag=flag, pnum=None, pno=None, cp={}, factors={},
                     header_extra=dict(first.header_extra),
                     crc_swapped=any(p.crc_swapped for p in parts))
    for part in parts:
        merged.cp.update(part.cp)
        for factor in part.factors.values():
            _merge_factor(merged.factors, factor)
    return merged


def _merge_factor(into: dict[str, Factor], factor: Factor) -> None:
    target = into.get(factor.code)
    if target is None:
        into[factor.code] = Factor(factor.code, dict(factor.values), factor.flag,
                                   dict(factor.extra))
        return
    target.values.update(factor.values)
    target.extra.update(factor.extra)
    target.flag = factor.flag if factor.flag is not None else target.flag
