"""Decoded SL 651-2014 frames and elements (immutable)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Element:
    """One element of a body.

    ``id`` is the identifier byte (``0xFFxx`` for extension identifiers). ``value`` depends on it:
    float for BCD numbers (``None`` when the field is all FF = invalid/missing), ``datetime``
    for F0, ``(station, class)`` for F1, ``timedelta`` for 04, ``int`` bits for 45, ``str`` for
    F2, ``bytes`` for F3, ``tuple[int | None, ...]`` for the F4..FC 5-minute arrays. ``ts`` is the
    observation time the value belongs to (aware, +08:00), ``raw`` the value bytes.
    """

    id: int
    value: Any
    ts: datetime | None = None
    raw: bytes = b""
    decimals: int = 0


@dataclass(frozen=True, slots=True)
class Frame:
    """One SL 651-2014 HEX frame, or a reassembled multi-packet message.

    ``station`` is the 5-byte address as 10 upper-case hex chars. ``packets`` is ``(total, seq)``
    for one packet of a multi-packet message and ``None`` for a complete message. ``serial`` and
    ``sent`` are ``None`` on packets after the first. ``elements`` are parsed only for complete
    up-link messages whose function carries elements; ``body`` keeps the raw body (after the
    start char and packet bytes, before the end char).
    """

    direction: str  # "up" or "down"
    centre: int
    station: str
    password: int
    function: int
    end: int
    serial: int | None
    sent: datetime | None
    elements: tuple[Element, ...] = ()
    packets: tuple[int, int] | None = None
    body: bytes = b""

    @property
    def up(self) -> bool:
        return self.direction == "up"

    @property
    def complete(self) -> bool:
        return self.packets is None
