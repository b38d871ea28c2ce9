"""Field side: asyncio TCP listeners, one protocol session per connection.

Sessions run in one worker thread (their QC state is shared and the durable write blocks on
fsync), so the event loop keeps accepting and reading while a reading is being committed. A
session with a ``poll_s`` (SL 651) is polled after that many seconds without bytes.
"""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from ._stats import Stats

log = logging.getLogger(__name__)
READ_CHUNK = 65536


class FieldServer:
    """Listeners for one protocol; ``session_factory()`` makes a sans-I/O session."""

    def __init__(self, name: str, host: str, port: int, session_factory: Callable,
                 executor: ThreadPoolExecutor, stats: Stats, *, max_connections: int = 512,
                 on_session: Callable | None = None) -> None:
        self.name, self._host, self._port = name, host, port
        self._factory, self._executor, self._stats = session_factory, executor, stats
        self._max = max_connections
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._on_session = on_session
        self.port = port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, self._port,
                                                  reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("%s listening on %s:%d", self.name, self._host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for w in list(self._writers):
            w.close()
        if self._server is not None:
            try:
                await asyncio.wait_for(self._server.wait_closed(), 5)
            except asyncio.TimeoutError:
                pass

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._writers) >= self._max:
            self._stats.inc(f"{self.name}.connections_refused")
            writer.close()
            return
        self._writers.add(writer)
        self._stats.inc(f"{self.name}.connections")
        session = self._factory()
        if self._on_session:
            self._on_session(session, writer)
        loop = asyncio.get_running_loop()
        idle = getattr(session, "poll_s", None)
        try:
            while True:
                try:
                    data = await asyncio.wait_for(reader.read(READ_CHUNK), idle)
                except asyncio.TimeoutError:      # idle: let the session give up held bytes
                    replies = await loop.run_in_executor(self._executor, session.poll)
                    await self._send(writer, replies)
                    continue
                if not data:
                    break
                replies = await loop.run_in_executor(self._executor, session.feed, data)
                await self._send(writer, replies)
            replies = await loop.run_in_executor(self._executor, session.close)
            await self._send(writer, replies)
        except (ConnectionError, OSError):
            pass
        except Exception:  # noqa: BLE001 - never let a connection take the listener down
            log.exception("%s: connection handler failed", self.name)
        finally:
            self._writers.discard(writer)
            if self._on_session:
                self._on_session(session, None)
            writer.close()

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, replies: list[bytes]) -> None:
        if replies:
            writer.write(b"".join(replies))
            await writer.drain()
