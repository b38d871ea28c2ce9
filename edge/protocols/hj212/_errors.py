"""Errors of the HJ 212 codec.

Hierarchy::

    ValueError
     └── DecodeError      one rejected frame; ``reason`` is a stable machine-readable string
                          (a :class:`Reason`), ``raw`` the frame bytes, ``field`` the header/CP
                          key at fault (if any), ``packet`` the best-effort parse (if any) so a
                          platform can still answer with a 9011 ``QnRtn``.

Encoding problems (bad arguments to builders) raise plain ``ValueError``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._model import Packet


class Reason(StrEnum):
    """Why a frame was rejected (values are stable; compare with plain strings)."""

    BAD_HEADER = "bad_header"  # frame does not start with "##"
    BAD_LENGTH = "bad_length"  # LLLL not 4 digits or not the data segment's length
    OVERSIZE = "oversize"  # LLLL (or the unterminated frame) above max_length
    TRUNCATED = "truncated"  # frame ended (or a new "##" started) before it was complete
    BAD_CRC = "bad_crc"  # CRC field not 4 hex digits, or wrong
    BAD_ENCODING = "bad_encoding"  # data segment is not UTF-8
    BAD_FIELD = "bad_field"  # header or CP field malformed or missing
    UNKNOWN_CN = "unknown_cn"  # well-formed packet with a command code we do not know
    INTERNAL = "internal_error"  # a bug in this codec; reported, never raised by the stream


class DecodeError(ValueError):
    """A rejected frame, with the data needed to log it or answer it."""

    def __init__(
        self,
        reason: Reason,
        detail: str = "",
        *,
        field: str | None = None,
        raw: bytes = b"",
        packet: Packet | None = None,
    ) -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason
        self.detail = detail
        self.field = field
        self.raw = raw
        self.packet = packet

    def __repr__(self) -> str:
        return f"DecodeError({self.reason.value!r}, {self.detail!r}, field={self.field!r})"
