"""An in-process platform for tests and demos: asyncio TCP listeners that decode what the
simulated devices send, with the codecs, and answer like a platform (9014, SL 651 acks).
"""
from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Container
from datetime import datetime, timezone

import pandas as pd

from edge.protocols import hj212, sl651

NAMES = hj212.DEFAULT_FACTOR_NAMES
_MN = re.compile(rb";MN=([^;&]{1,24});")


def _mn_of(raw: bytes | None) -> str | None:
    """Best-effort MN of a rejected frame (for attributing errors to devices)."""
    m = _MN.search(raw or b"")
    return m.group(1).decode("ascii", "replace") if m else None
DATA_FIELD = {"2011": "Rtd", "2051": "Avg", "2061": "Avg", "2031": "Avg"}


class Collector:
    """Listens on two loopback ports; ``air_target`` / ``hydro_target`` are HOST:PORT.

    ``reply_9014=False`` plays a platform that never answers (devices then retry).
    ``max_length`` bounds HJ 212 data segments (1024 = the standard; oversize is rejected).
    """

    def __init__(self, *, reply_9014: bool = True, max_length: int = 1024,
                 swapped_crc_devices: Container[str] = frozenset(), host: str = "127.0.0.1"):
        self.reply_9014, self.max_length = reply_9014, max_length
        self.swapped = swapped_crc_devices
        self.host = host
        self.packets: list[hj212.Packet] = []
        self.hj212_errors: list[tuple[str, str | None]] = []  # (reason, MN if known)
        self.frames: list[sl651.Frame] = []
        self.sl651_errors: list[tuple[str, str | None]] = []
        self.connections: Counter = Counter()  # "air"/"hydro" -> accepted connections
        self._writers: dict[str, asyncio.StreamWriter] = {}
        self._servers: list[asyncio.base_events.Server] = []
        self._open: set[asyncio.StreamWriter] = set()
        self.air_port = self.hydro_port = 0

    @property
    def air_target(self) -> str:
        return f"{self.host}:{self.air_port}"

    @property
    def hydro_target(self) -> str:
        return f"{self.host}:{self.hydro_port}"

    async def start(self) -> "Collector":
        air = await asyncio.start_server(self._air, self.host, self.air_port)
        hydro = await asyncio.start_server(self._hydro, self.host, self.hydro_port)
        self._servers = [air, hydro]
        self.air_port = air.sockets[0].getsockname()[1]
        self.hydro_port = hydro.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        for s in self._servers:
            s.close()
        for w in list(self._open):
            w.close()
        for s in self._servers:
            await s.wait_closed()

    async def __aenter__(self) -> "Collector":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    async def settle(self, timeout: float = 5.0) -> None:
        """Wait until every device has closed its connection (all bytes read)."""
        loop = asyncio.get_running_loop()
        limit = loop.time() + timeout
        while self._open and loop.time() < limit:
            await asyncio.sleep(0.01)

    async def drop_connections(self) -> None:
        """Close every device connection (the devices should reconnect)."""
        for w in list(self._open):
            w.close()

    # -- HJ 212 -------------------------------------------------------------------------------
    async def _air(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections["air"] += 1
        self._open.add(writer)
        decoder = hj212.StreamDecoder(max_length=self.max_length,
                                      swapped_crc_devices=self.swapped)
        try:
            while data := await reader.read(65536):
                for item in decoder.feed(data):
                    self._on_hj212(item, writer)
        except (ConnectionError, OSError):
            pass
        finally:
            self._open.discard(writer)
            writer.close()

    def _on_hj212(self, item, writer: asyncio.StreamWriter) -> None:
        if isinstance(item, hj212.DecodeError):
            mn = item.packet.mn if item.packet is not None else _mn_of(item.raw)
            self.hj212_errors.append((str(item.reason), mn))
            return
        self.packets.append(item)
        self._writers[item.mn] = writer
        if item.ack_requested and self.reply_9014 and item.cn in DATA_FIELD:
            writer.write(hj212.encode_packet(hj212.build_data_reply(item)))

    async def command(self, mn: str, packet: hj212.Packet) -> None:
        """Send a platform command to the logger ``mn`` (it must have sent something)."""
        writer = self._writers[mn]
        writer.write(hj212.encode_packet(packet))
        await writer.drain()

    # -- SL 651 -------------------------------------------------------------------------------
    async def _hydro(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections["hydro"] += 1
        self._open.add(writer)
        decoder = sl651.StreamDecoder()
        try:
            while data := await reader.read(65536):
                for item in decoder.feed(data):
                    if isinstance(item, sl651.FrameError):
                        self.sl651_errors.append((str(item.reason), item.station))
                        continue
                    self.frames.append(item)
                    self._writers[item.station] = writer
                    reply = sl651.ack(item, sent=datetime.now(sl651.CHINA_TZ), keep_online=True)
                    if reply is not None:
                        writer.write(reply)
        except (ConnectionError, OSError):
            pass
        finally:
            self._open.discard(writer)
            writer.close()

    # -- results ------------------------------------------------------------------------------
    def air_frame(self, cn: str = "2061", *, dedupe: bool = True) -> pd.DataFrame:
        """Long frame of decoded uploads: station (MN), ts (UTC, DataTime), param, value, flag."""
        field = DATA_FIELD[cn]
        rows = []
        for p in self.packets:
            if p.cn != cn or p.data_time is None:
                continue
            ts = p.data_time.astimezone(timezone.utc)
            for code, f in p.factors.items():
                rows.append((p.mn, ts, NAMES.get(code, code), f.values.get(field), f.flag or "N"))
        df = pd.DataFrame(rows, columns=["station", "ts", "param", "value", "flag"])
        if dedupe:
            df = df.drop_duplicates(["station", "ts", "param"], keep="first")
        return df.reset_index(drop=True)

    def hydro_frame(self, functions: tuple[int, ...] = (0x34,), *,
                    dedupe: bool = True) -> pd.DataFrame:
        """Long frame of decoded reports: station (address), ts (UTC), param, value, flag."""
        rows = []
        for fr in self.frames:
            if fr.function not in functions:
                continue
            for obs in sl651.observations(fr):
                ts = obs["ts"].astimezone(timezone.utc)
                for name, v in obs["values"].items():
                    rows.append((fr.station, ts, name, v, "N"))
                for name, flag in obs["flags"].items():
                    rows.append((fr.station, ts, name, None, flag))
        df = pd.DataFrame(rows, columns=["station", "ts", "param", "value", "flag"])
        if dedupe:
            df = df.drop_duplicates(["station", "ts", "param"], keep="first")
        return df.reset_index(drop=True)

    def hj212_error_counts(self) -> Counter:
        return Counter(reason for reason, _ in self.hj212_errors)
