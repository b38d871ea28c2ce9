"""Decoded wire-format v1 objects."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import msgspec


class Reading(msgspec.Struct, frozen=True, gc=False):
    """One reading of one station: values over the period starting at ``ts`` (UTC).

    An immutable record like a frozen dataclass (same fields, positional or keyword
    construction, equality by fields), built in C: the ingest makes one per stored reading,
    and a msgspec Struct costs ~0.1 us where the slotted dataclass cost ~0.5 (profile of
    ``fenwei bench ingest``'s 50-reading phase). Not tracked by the cycle collector: it holds
    strings, datetimes and dicts of numbers or letters, never itself."""

    station: str
    city: str
    kind: str
    ts: datetime
    period: str
    values: dict[str, float]
    flags: dict[str, str] = {}
    agent_ts: datetime | None = None
    backfill: bool = False

    def flag(self, param: str) -> str:
        return self.flags.get(param, "N")


@dataclass(frozen=True, slots=True)
class Batch:
    """A validated readings message."""

    station: str
    city: str
    kind: str
    seq: int
    readings: tuple[Reading, ...]


@dataclass(frozen=True, slots=True)
class Rejected:
    """Why a message was refused. ``reason`` is a stable machine-readable code."""

    reason: str
    detail: str
    topic: str = ""

    def __bool__(self) -> bool:  # a rejection is falsy, a Batch truthy
        return False
