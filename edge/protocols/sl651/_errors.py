"""Errors of the SL 651-2014 codec.

    Sl651Error                  base of everything raised or reported here
    ├── FrameError              a frame (or a byte run that looked like one) was rejected;
    │                           carries a stable machine-readable ``reason`` (a :class:`Reason`)
    └── EncodeError             the caller asked to encode something the standard cannot carry

The stream decoder and the reassembler *return* ``FrameError`` objects instead of raising them;
``decode_frame`` raises them.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Stable reasons; compare with the enum or with the plain string."""

    BAD_LENGTH = "bad_length"  # length field disagrees with where the end char is
    BAD_CRC = "bad_crc"  # CRC-16/MODBUS mismatch
    BAD_FIELD = "bad_field"  # a header or body field has an impossible value
    UNKNOWN_FUNCTION = "unknown_function"  # function code outside SL 651-2014
    TRUNCATED = "truncated"  # the input ended inside a frame
    OVERSIZE = "oversize"  # body longer than the configured limit
    BAD_BCD = "bad_bcd"  # a BCD field holds a nibble above 9
    EXPIRED = "expired"  # multi-packet message timed out before it was complete
    EVICTED = "evicted"  # multi-packet message dropped to bound pending state
    INCOMPLETE = "incomplete"  # multi-packet message superseded before it was complete


class Sl651Error(Exception):
    """Base class of codec errors."""


class FrameError(Sl651Error):
    """A rejected frame; ``offset`` is the stream offset of its first 7E when known."""

    def __init__(
        self,
        reason: Reason,
        detail: str = "",
        *,
        offset: int | None = None,
        station: str | None = None,
        function: int | None = None,
        raw: bytes = b"",
    ) -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = Reason(reason)
        self.detail = detail
        self.offset = offset
        self.station = station
        self.function = function
        self.raw = bytes(raw)

    def __repr__(self) -> str:
        fc = None if self.function is None else f"{self.function:02X}"
        return (
            f"FrameError(reason={self.reason.value!r}, detail={self.detail!r}, "
            f"offset={self.offset}, station={self.station!r}, function={fc!r})"
        )


class EncodeError(Sl651Error, ValueError):
    """Raised by the encoders for values or options a frame cannot carry."""
