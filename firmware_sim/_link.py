"""A device's TCP link to its platform: connect, reconnect with backoff, read in the background.

Like real hardware, a device opens the connection itself and reconnects when it drops. Writes
never raise: ``send`` returns False while the link is down so the caller can buffer.
"""
from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

from .errors import TargetError

log = logging.getLogger(__name__)


def parse_target(text: str | tuple[str, int]) -> tuple[str, int]:
    if isinstance(text, tuple):
        return text
    host, sep, port = str(text).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise TargetError(f"target {text!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


class Link:
    """One device's connection. ``on_data(bytes)`` is called for every chunk received."""

    def __init__(self, target: tuple[str, int], on_data: Callable[[bytes], None], *,
                 name: str, backoff: tuple[float, float] = (0.05, 5.0), seed: int = 0) -> None:
        self.target, self.on_data, self.name = target, on_data, name
        self.backoff = backoff
        self._rng = random.Random(seed)
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task | None = None
        self.connects = 0
        self.failures = 0

    @property
    def up(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    async def connect(self, deadline: float | None = None) -> bool:
        """Connect, retrying with jittered exponential backoff until ``deadline`` (loop time)."""
        loop = asyncio.get_running_loop()
        delay = self.backoff[0]
        while not self.up:
            try:
                reader, writer = await asyncio.open_connection(*self.target)
            except OSError as exc:
                self.failures += 1
                log.debug("connect failed device=%s target=%s: %s", self.name, self.target, exc)
                if deadline is not None and loop.time() + delay > deadline:
                    return False
                await asyncio.sleep(delay * (0.5 + self._rng.random()))
                delay = min(delay * 2, self.backoff[1])
                continue
            self._writer = writer
            self.connects += 1
            self._reader_task = asyncio.create_task(self._read(reader, writer))
        return True

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                self.on_data(data)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            if self._writer is writer:
                self._writer = None
            writer.close()

    def send(self, data: bytes) -> bool:
        w = self._writer
        if w is None or w.is_closing():
            return False
        w.write(data)
        return True

    async def drain(self) -> None:
        w = self._writer
        if w is not None and w.transport.get_write_buffer_size() > 65536:
            try:
                await w.drain()
            except (OSError, ConnectionError):
                self._writer = None

    async def close(self) -> None:
        w, self._writer = self._writer, None
        if w is not None:
            try:
                await w.drain()
            except (OSError, ConnectionError):
                pass
            w.close()
            try:
                await w.wait_closed()
            except (OSError, ConnectionError):
                pass
        if self._reader_task is not None:
            self._reader_task.cancel()
            self._reader_task = None
