"""EdgeAgent: field listeners -> QC -> durable queue -> MQTT, with start()/stop().

Start sink-first (queue, then the broker side, then the listeners); stop source-first
(listeners, then the session worker, then the broker side drains and says offline).
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from core.catalogue import Catalogue, load_catalogue
from core.settings import Settings, load_settings

from ._config import AgentConfig
from ._devices import Device, device_table
from ._hj212 import Hj212Session, interval_command
from ._publisher import ClientFactory, Publisher
from ._qc import QualityControl
from ._queue import DurableQueue
from ._remote import RemoteConfigurator
from ._server import FieldServer
from ._sink import QueueSink
from ._sl651 import Sl651Session
from ._stats import Stats
from .errors import EdgeError

log = logging.getLogger(__name__)


class EdgeAgent:
    """One gateway's agent. ``start()`` returns once the listeners accept connections.

    ``ports`` gives the bound ports (configure 0 for ephemeral ones), ``stats`` the counters.
    Seams: ``settings`` (broker URL and TLS files), ``catalogue``, ``clock`` (epoch seconds),
    ``client_factory`` (client id -> paho Client).
    """

    def __init__(self, config: AgentConfig, *, settings: Settings | None = None,
                 mqtt_url: str | None = None, catalogue: Catalogue | None = None,
                 clock=time.time, client_factory: ClientFactory | None = None) -> None:
        self.config = config
        self._settings = settings or load_settings(mqtt_url=mqtt_url)
        self._cat = catalogue or load_catalogue()
        self._clock, self._factory = clock, client_factory
        self.devices = device_table(config, self._cat)  # validates the table without I/O
        self._stats = Stats()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[FieldServer] = []
        self._hj_sessions: dict[Hj212Session, asyncio.StreamWriter] = {}
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._queue: DurableQueue | None = None
        self._publisher: Publisher | None = None
        self._executor: ThreadPoolExecutor | None = None

    # -- public -----------------------------------------------------------------------------

    @property
    def ports(self) -> dict[str, int]:
        return {s.name: s.port for s in self._servers}

    @property
    def stats(self) -> dict:
        """``{"agent": {...}, "stations": {id: {...}}, "queue_depth": n}``."""
        stations = {d.station.id for table in self.devices.values() for d in table.values()}
        return {"agent": self._stats.snapshot(),
                "stations": {s: self._stats.snapshot(s) for s in sorted(stations)},
                "queue_depth": self._queue.depth() if self._queue else 0}

    def start(self, timeout: float = 30.0) -> "EdgeAgent":
        cfg = self.config
        self._queue = DurableQueue(cfg.queue_path, max_readings=cfg.queue.max_readings,
                                   max_mb=cfg.queue.max_mb, policy=cfg.queue.policy,
                                   synchronous=cfg.queue.synchronous, clock=self._clock)
        qc = QualityControl(self._cat, cfg.qc, self._stats, clock=self._clock)
        for table in self.devices.values():
            for dev in table.values():
                qc.set_ranges(dev.station.id, dev.range_max)
        remote = RemoteConfigurator(self._cat, cfg.qc, qc, self._stats, self._push_interval)
        stations = [d.station for t in self.devices.values() for d in t.values()]
        self._publisher = Publisher(cfg, self._settings, self._queue, stations, self._stats,
                                    remote, client_factory=self._factory, clock=self._clock)
        sink = QueueSink(qc, self._queue, self._stats, self._publisher.wake)
        self._publisher.start()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="edge-session")
        self._servers = [
            FieldServer("hj212", cfg.hj212.host, cfg.hj212.port, lambda: Hj212Session(
                self.devices["hj212"], sink, self._stats, max_length=cfg.hj212.max_length),
                self._executor, self._stats, on_session=self._track_hj212),
            FieldServer("sl651", cfg.sl651.host, cfg.sl651.port, lambda: Sl651Session(
                self.devices["sl651"], sink, self._stats, clock=self._clock),
                self._executor, self._stats),
        ]
        self._thread = threading.Thread(target=self._run_loop, name="edge-field", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            self.stop()
            raise EdgeError(f"edge agent did not start: {self._error!r}")
        log.info("edge agent %s started: %d HJ 212 and %d SL 651 devices, ports %s",
                 cfg.agent_id, len(self.devices["hj212"]), len(self.devices["sl651"]), self.ports)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            fut = asyncio.run_coroutine_threadsafe(self._stop_servers(), self._loop)
            try:
                fut.result(10)
            except Exception:  # noqa: BLE001
                log.exception("stopping the listeners failed")
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        if self._publisher is not None:
            self._publisher.stop()
        if self._queue is not None:
            self._queue.close()
        self._loop = self._thread = self._executor = self._publisher = self._queue = None

    def __enter__(self) -> "EdgeAgent":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- internals --------------------------------------------------------------------------

    def _run_loop(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            for server in self._servers:
                loop.run_until_complete(server.start())
        except BaseException as exc:  # noqa: BLE001 - reported by start()
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _stop_servers(self) -> None:
        for server in self._servers:
            await server.stop()

    def _track_hj212(self, session: Hj212Session, writer) -> None:
        if writer is None:
            self._hj_sessions.pop(session, None)
        else:
            self._hj_sessions[session] = writer

    def _push_interval(self, station: str, interval_s: int) -> None:
        """Remote config changed the reporting interval: tell the station's HJ 212 logger."""
        dev = next((d for d in self.devices["hj212"].values() if d.station.id == station), None)
        if dev is None or not self.config.push_interval or self._loop is None:
            return
        now = datetime.fromtimestamp(self._clock(), timezone.utc)
        for session, writer in list(self._hj_sessions.items()):
            last = session.mns.get(dev.key)
            if last is not None:
                self._loop.call_soon_threadsafe(writer.write,
                                                interval_command(last, interval_s, now))
                self._stats.inc("commands.1062", station=station)


__all__ = ["Device", "EdgeAgent"]
