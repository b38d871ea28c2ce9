"""Decoded wire-format v1 objects."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Reading:
    """One reading of one station: values over the period starting at ``ts`` (UTC)."""

    station: str
    city: str
    kind: str
    ts: datetime
    period: str
    values: dict[str, float]
    flags: dict[str, str] = field(default_factory=dict)
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
