"""Incremental decoder for a byte stream (TCP): split, glued or garbage-ridden frames."""

from __future__ import annotations

import time
from collections.abc import Callable

from ._consts import MAX_BODY, SYNC
from ._errors import FrameError, Reason
from ._frame import header_of, try_frame
from ._model import Frame

Item = Frame | FrameError

#: Default idle time (seconds) after which a frame still waiting for bytes is given up.
DEFAULT_IDLE_TIMEOUT = 30.0


class StreamDecoder:
    """Feed bytes as they arrive; get back frames and :class:`FrameError` objects.

    Frames start at 7E 7E and are delimited by the length field, the end char and the CRC, never
    by a lone 7E (one may sit inside a body). On a rejected candidate the decoder moves one byte
    on and looks for the next 7E 7E, so a frame right after garbage is still found (a candidate
    that fails before its CRC is silently skipped when it is just a stray 7E before 7E 7E).

    A candidate whose length field points past the bytes received so far (e.g. one corrupted
    length byte) would hold everything behind it; so while waiting the decoder looks ahead for
    a later 7E 7E that starts a complete frame whose CRC verifies, and if there is one it gives
    the candidate up (``bad_length``) and goes on from there: a corrupted length costs that one
    frame. A candidate that is still incomplete when no byte has arrived for ``idle_timeout``
    seconds of ``clock`` is reported ``truncated`` at the next :meth:`feed` or :meth:`poll`.

    Bytes that cannot start a frame are dropped and counted in ``skipped``; the buffer never
    holds more than one maximal frame plus the current chunk. ``feed`` never raises and never
    blocks.
    """

    def __init__(
        self,
        *,
        max_body: int = MAX_BODY,
        verify_crc: bool = True,
        idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._buf = bytearray()
        self._base = 0  # stream offset of _buf[0]
        self._max_body = max_body
        self._verify_crc = verify_crc
        self._idle_timeout = idle_timeout
        self._clock = clock
        self._last = clock()
        self._dead: set[int] = set()  # stream offsets of 7E 7E already found not to be frames
        self.skipped = 0
        self.resyncs = 0  # candidates given up for a verified frame found inside them

    def feed(self, data: bytes | bytearray | memoryview) -> list[Item]:
        """Consume ``data``; return what could be decoded so far, in stream order."""
        out = self.poll()
        self._last = self._clock()
        return out + self._consume(data)

    def poll(self) -> list[Item]:
        """Call when idle (e.g. on a read timeout): after ``idle_timeout`` seconds without
        bytes, flush what is held back (see :meth:`flush`); otherwise nothing."""
        if self._idle_timeout is None or not self._buf:
            return []
        if self._clock() - self._last < self._idle_timeout:
            return []
        return self.flush()

    def flush(self) -> list[Item]:
        """End of stream (or idle): decode what can be decoded, report incomplete candidates as
        ``truncated``, and reset. A candidate whose length runs past the end no longer hides the
        frames inside it."""
        out: list[Item] = []
        while self._buf:
            out += self._consume(b"")
            if not self._buf.startswith(SYNC):
                break
            out.append(FrameError(Reason.TRUNCATED, f"stream ended {len(self._buf)} bytes into "
                                  "a frame", offset=self._base, raw=bytes(self._buf)))
            self._advance(1)
        self.skipped += len(self._buf)
        self._advance(len(self._buf))
        return out

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the rest of a frame."""
        return len(self._buf)

    def _consume(self, data: bytes | bytearray | memoryview) -> list[Item]:
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
                attempt = self._look_ahead(start)
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
        self._advance(pos)
        return out

    def _advance(self, count: int) -> None:
        del self._buf[:count]
        self._base += count
        self._dead = {at for at in self._dead if at >= self._base}

    def _attempt(self, start: int) -> tuple[Item, int] | None:
        try:
            return try_frame(self._buf, start, max_body=self._max_body,
                             verify_crc=self._verify_crc)
        except Exception as exc:  # noqa: BLE001 - a decoder bug must not kill the connection
            return FrameError(Reason.BAD_FIELD, f"decoder failure: {exc!r}"), 1

    def _look_ahead(self, start: int) -> tuple[FrameError, int] | None:
        """The incomplete candidate at ``start`` as a ``bad_length`` error and the distance to
        the first later 7E 7E that is a complete, verified frame; None when there is none."""
        buf, at = self._buf, start
        while (at := buf.find(SYNC, at + 1)) >= 0:
            if self._base + at in self._dead:
                continue
            attempt = self._attempt(at)
            if attempt is None:
                continue  # incomplete too: it may be corrupted as well, look further
            if isinstance(attempt[0], Frame) or attempt[1] > 1:  # CRC verified
                return self._given_up(start, at), at - start
            self._dead.add(self._base + at)
        return None

    def _given_up(self, start: int, found: int) -> FrameError:
        self.resyncs += 1
        header = header_of(self._buf, start)
        return FrameError(
            Reason.BAD_LENGTH, f"length field says {header.length} body bytes, but a frame "
            f"that verifies starts {found - start} bytes in", station=header.station,
            function=header.function, raw=bytes(self._buf[start:found]))

    def _drop_garbage(self, pos: int) -> int:
        """Drop everything but a trailing 7E (it may be half of the next sync)."""
        end = len(self._buf)
        keep = 1 if end > pos and self._buf[end - 1] == 0x7E else 0
        self.skipped += end - pos - keep
        return end - keep
