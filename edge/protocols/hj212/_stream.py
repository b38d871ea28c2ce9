"""Byte stream -> packets and errors: framing, resynchronisation, bounded buffering."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Container
from dataclasses import dataclass, field

from ._errors import DecodeError, Reason
from ._frame import DEFAULT_MAX_LENGTH, decode_packet
from ._model import KNOWN_CNS, Packet

logger = logging.getLogger(__name__)

_FRAME_OVERHEAD = 2 + 4 + 8 + 2  # "##", LLLL, CRC (with slack for buggy ones), CRLF


@dataclass(slots=True)
class DecoderStats:
    """Counters of one StreamDecoder (export them as metrics)."""

    packets: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # by Reason value
    crc_swapped: int = 0  # packets accepted under the per-device byte-swap tolerance
    unterminated: int = 0  # packets accepted although the next "##" came before CRLF
    skipped_bytes: int = 0  # garbage between frames
    duplicate_keys: int = 0  # keys sent twice with the same value (tolerated), all packets


class StreamDecoder:
    """Consume a TCP byte stream with :meth:`feed`; get packets and :class:`DecodeError` objects.

    Frames end at CRLF. A ``##`` arriving before the CRLF ends the current frame (it is decoded
    as it is: a complete but unterminated packet is accepted and counted, a cut one is reported
    ``truncated``). Bytes outside frames are skipped and counted. The buffer never holds more than
    one frame of at most ``max_length`` + overhead bytes. Never raises, never blocks.
    """

    def __init__(
        self,
        *,
        max_length: int = DEFAULT_MAX_LENGTH,
        swapped_crc_devices: Container[str] = frozenset(),
        known_cns: Container[str] = KNOWN_CNS,
    ) -> None:
        self._options = {"max_length": max_length, "swapped_crc_devices": swapped_crc_devices,
                         "known_cns": known_cns}
        self._limit = max_length + _FRAME_OVERHEAD
        self._buf = bytearray()
        self.stats = DecoderStats()

    @property
    def buffered(self) -> int:
        """Bytes held back waiting for the rest of a frame (bounded by max_length + overhead)."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Packet | DecodeError]:
        """Add received bytes; return what became complete, in stream order."""
        self._buf += data
        out: list[Packet | DecodeError] = []
        while (frame := self._next_frame()) is not None:
            out.append(frame if isinstance(frame, DecodeError) else self._decode(frame))
        return out

    def close(self) -> list[Packet | DecodeError]:
        """End of stream: decode (or report) whatever frame is left in the buffer."""
        self._buf += b"\0"  # lets a trailing "##" run be recognised, never part of a frame
        found = self._find_start()
        frame = bytes(self._buf[:-1]) if found else b""
        self.stats.skipped_bytes -= not found  # the sentinel was counted as skipped
        self._buf = bytearray()
        return [self._decode(frame)] if frame else []

    def _next_frame(self) -> bytes | DecodeError | None:
        """Cut the next frame off the buffer (or report an oversize one); None: need more bytes."""
        if not self._find_start():
            return None
        buf, limit = self._buf, self._limit
        crlf = buf.find(b"\r\n", 2, limit)
        nxt = buf.find(b"##", 2, crlf if crlf >= 0 else limit)
        end = nxt if nxt >= 0 else crlf + 2 if crlf >= 0 else -1
        if end < 0:
            if len(buf) < limit:
                return None
            error = DecodeError(Reason.OVERSIZE, f"no CRLF within {limit} bytes", raw=bytes(buf[:64]))
            del buf[:2]  # drop this "##" and resynchronise on the next one
            return self._report(error)
        frame = bytes(buf[:end])
        del buf[:end]
        return frame

    def _find_start(self) -> bool:
        """Drop bytes before the frame start ("##" then a non-'#'); True if one is buffered."""
        buf = self._buf
        start = buf.find(b"##")
        if start < 0:  # keep a lone trailing '#', it may be half of the next "##"
            self._skip(len(buf) - 1 if buf.endswith(b"#") else len(buf))
            return False
        while start + 2 < len(buf) and buf[start + 2] == 0x23:  # "###..": the last pair starts it
            start += 1
        self._skip(start)
        return len(buf) > 2

    def _skip(self, count: int) -> None:
        if count > 0:
            self.stats.skipped_bytes += count
            del self._buf[:count]

    def _decode(self, frame: bytes) -> Packet | DecodeError:
        try:
            packet = decode_packet(frame, **self._options)
        except DecodeError as exc:
            return self._report(exc)
        except Exception as exc:  # noqa: BLE001 - a codec bug must not kill the connection
            logger.exception("HJ 212 decoder bug on frame %r", frame[:200])
            return self._report(DecodeError(Reason.INTERNAL, repr(exc), raw=frame))
        self.stats.packets += 1
        self.stats.crc_swapped += packet.crc_swapped
        self.stats.duplicate_keys += packet.duplicates
        self.stats.unterminated += not frame.endswith(b"\r\n")
        return packet

    def _report(self, error: DecodeError) -> DecodeError:
        self.stats.errors[error.reason.value] += 1
        return error
