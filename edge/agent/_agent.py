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
from ._credentials import load_credentials
from ._devices import Device, device_table
from ._fill import (FillRequest, Seen, hj212_cn, hj212_history_request, sl651_period_query,
                    QUERY_ELEMENTS)
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
        self._sl_sessions: dict[Sl651Session, asyncio.StreamWriter] = {}
        self._logger_clocks: dict = {}      # MN -> LoggerClock, across reconnections
        self._fills_seen = Seen()
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
        """Raises :class:`ConfigError` (e.g. a station without MQTT credentials) or
        :class:`EdgeError` (a listener cannot bind)."""
        cfg = self.config
        stations = [d.station for t in self.devices.values() for d in t.values()]
        creds = None if cfg.credentials_path is None else \
            load_credentials(cfg.credentials_path, [st.id for st in stations])
        self._queue = DurableQueue(cfg.queue_path, max_readings=cfg.queue.max_readings,
                                   max_mb=cfg.queue.max_mb, policy=cfg.queue.policy,
                                   synchronous=cfg.queue.synchronous, clock=self._clock)
        qc = QualityControl(self._cat, cfg.qc, self._stats, clock=self._clock)
        for table in self.devices.values():
            for dev in table.values():
                qc.set_ranges(dev.station.id, dev.range_max)
        remote = RemoteConfigurator(self._cat, cfg.qc, qc, self._stats, self._push_interval)
        self._publisher = Publisher(cfg, self._settings, self._queue, stations, self._stats,
                                    remote, client_factory=self._factory, clock=self._clock,
                                    credentials=creds,
                                    on_fill=self._on_fill if cfg.fill.enabled else None)
        sink = QueueSink(qc, self._queue, self._stats, self._publisher.wake)
        self._publisher.start()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="edge-session")
        self._servers = [
            FieldServer("hj212", cfg.hj212.host, cfg.hj212.port, lambda: Hj212Session(
                self.devices["hj212"], sink, self._stats, max_length=cfg.hj212.max_length,
                clock=self._clock, clock_config=cfg.clock, logger_clocks=self._logger_clocks),
                self._executor, self._stats, on_session=self._track_hj212),
            FieldServer("sl651", cfg.sl651.host, cfg.sl651.port, lambda: Sl651Session(
                self.devices["sl651"], sink, self._stats, clock=self._clock),
                self._executor, self._stats, on_session=self._track_sl651),
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

    def _track_sl651(self, session: Sl651Session, writer) -> None:
        if writer is None:
            self._sl_sessions.pop(session, None)
        else:
            self._sl_sessions[session] = writer

    # -- gap filling (反控补数) -----------------------------------------------------------------

    def _on_fill(self, station, payload: bytes) -> None:
        """A fill request on the station's fill topic (publisher thread)."""
        sid = station.id
        try:
            req = FillRequest.model_validate_json(payload)
            if req.station != sid:
                raise ValueError(f"request for {req.station} on {sid}'s topic")
            period_s = req.period_s
            if req.end < req.start or (req.end - req.start).total_seconds() > \
                    self.config.fill.max_span_s:
                raise ValueError("span empty or longer than fill.max_span_s")
        except ValueError as exc:
            self._stats.inc("fill.rejected", station=sid)
            log.warning("station %s: fill request rejected: %s", sid, str(exc)[:300])
            return
        if not self._fills_seen.first((req.id, req.attempt)):
            self._stats.inc("fill.duplicates", station=sid)
            return
        dev = next((d for t in self.devices.values() for d in t.values()
                    if d.station.id == sid), None)
        if dev is None or self._loop is None:
            self._stats.inc("fill.no_device", station=sid)
            return
        self._loop.call_soon_threadsafe(self._ask_device, dev, req, period_s)

    def _ask_device(self, dev, req: FillRequest, period_s: int) -> None:
        """Write the history request to the device's connection (event loop thread)."""
        sid = dev.station.id
        now = datetime.fromtimestamp(self._clock(), timezone.utc)
        frames = self._hj212_fill(dev, req, now) if dev.protocol == "hj212" else \
            self._sl651_fill(dev, req, period_s, now)
        if frames is None:
            self._stats.inc("fill.not_connected", station=sid)
            log.warning("station %s: fill request %s (attempt %d): device %s not connected; "
                        "the ingest retries", sid, req.id, req.attempt, dev.key)
            return
        self._stats.inc("fill.requests", station=sid)
        log.info("station %s: asked device %s for %s .. %s (%s, request %s attempt %d)", sid,
                 dev.key, req.start.isoformat(), req.end.isoformat(), req.period, req.id,
                 req.attempt)

    def _hj212_fill(self, dev, req: FillRequest, now: datetime) -> list | None:
        from edge.protocols.hj212 import encode_packet
        cn = hj212_cn(req.period, dev.config.minute_period)
        if cn is None:
            self._stats.inc("fill.rejected", station=dev.station.id)
            return []
        for session, writer in reversed(list(self._hj_sessions.items())):   # newest first
            last = session.mns.get(dev.key)
            if last is None or writer.is_closing():
                continue
            cmd = hj212_history_request(last, cn, req.start, req.end, now, dev.config.password)
            session.expect(cmd, dev.station.id)
            self._stats.inc(f"commands.{cn}", station=dev.station.id)
            writer.write(encode_packet(cmd))
            return [cmd]
        return None

    def _sl651_fill(self, dev, req: FillRequest, period_s: int, now: datetime) -> list | None:
        step = period_s if period_s >= 3600 else self.config.fill.query_step_s
        for session, writer in reversed(list(self._sl_sessions.items())):   # newest first
            last = session.units.get(dev.key)
            if last is None or writer.is_closing():
                continue
            password = int(dev.config.password, 16) if dev.config.password else last.password
            out = []
            for element in QUERY_ELEMENTS:
                if dev.factor_map.get(element) is None:
                    continue
                out.append(sl651_period_query(dev.key, centre=last.centre, password=password,
                                              start=req.start, end=req.end, step_s=step,
                                              element=element, now=now))
            self._stats.inc("commands.38", len(out), station=dev.station.id)
            writer.write(b"".join(out))
            return out
        return None

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
