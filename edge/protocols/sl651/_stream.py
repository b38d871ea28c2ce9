"""Incremental decoder for a byte stream (TCP): split, glued or garbage-ridden frames."""

from __future__ import annotations

from ._consts import MAX_BODY, SYNC
from ._errors import FrameError, Reason
from ._frame import try_frame
from ._model import Frame

Item = Frame | FrameError


class StreamDecoder:
    """Feed bytes as they arrive; get back frames and :class:`FrameError` objects.

    Frames start at 7E 7E and are delimited by the length field, the end char and the CRC, never
    by a lone 7E (one may sit inside a body). On a rejected candidate the decoder moves one byte
    on and looks for the next 7E 7E, so a frame right after garbage is still found (a candidate
that fails before its CRC is silently skipped when it is just a stray 7E before 7E 7E). Bytes that
    cannot start a frame are dropped and counted in ``skipped``; the buffer never holds more than
    one maximal frame plus the current chunk. ``feed`` never raises and never blocks.
    """

    def __init__(self, *, max_body: int = MAX_BODY, verify_crc: bool = True) -> None:
        self._buf = bytearray()
        self._base = 0  # stream offset of _buf[0]
        self._max_body = max_body
        self._verify_crc = verify_crc
        self.skipped = 0

    def feed(self, data: bytes | bytearray | memoryview) -> list[Item]:
        """Consume ``data``; return what could be decoded so far, in stream order."""
        buf = self._buf
        buf += data
        out: list[Item] = []
        pos = 0
        while True:
            start = buf.find(SYNC, pos)
            if start < 0:
                pos = self._drop_garbage(pos)
                break
            self.skipped += start - pos
            attempt = self._attempt(start)
            if attempt is None:
                pos = start
                break
            item, advance = attempt
            pos = start + advance
            if isinstance(item, FrameError):
                if advance == 1 and buf[start + 2] == 0x7E:
                    self.skipped += 1  # 7E 7E 7E: a stray 7E before a sync, not worth a report
                    continue
                item.offset = self._base + start
            out.append(item)
        del buf[:pos]
        self._base += pos
        return out

    def flush(self) -> list[Item]:
        """End of stream: decode what can be decoded, report incomplete candidates as
        ``truncated``, and reset. A candidate whose length runs past the end no longer hides the
        frames inside it."""
        out: list[Item] = []
        while self._buf:
            out += self.feed(b"")
            if not self._buf.startswith(SYNC):
                break
            out.append(FrameError(Reason.TRUNCATED, f"stream ended {len(self._buf)} bytes into "
                                  "a frame", offset=self._base, raw=bytes(self._buf)))
            del self._buf[:1]
            self._base += 1
        self.skipped += len(self._buf)
        self._base += len(self._buf)
        self._buf.clear()
        return out

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the rest of a frame."""
        return len(self._buf)

    def _attempt(self, start: int) -> tuple[Item, int] | None:
        try:
            return try_frame(self._buf, start, max_body=self._max_body,
                             verify_crc=self._verify_crc)
        except Exception as exc:  # noqa: BLE001 - a decoder bug must not kill the connection
            return FrameError(Reason.BAD_FIELD, f"decoder failure: {exc!r}"), 1

    def _drop_garbage(self, pos: int) -> int:
        """Drop everything but a trailing 7E (it may be half of the next sync)."""
        end = len(self._buf)
        keep = 1 if end > pos and self._buf[end - 1] == 0x7E else 0
        self.skipped += end - pos - keep
        return end - keep
