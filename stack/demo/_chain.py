"""The demo's full chain for a simulator scenario:

firmware simulator (HJ 212 loggers, SL 651 gauges over TCP) → one edge agent per city
(a site gateway) → MQTT (embedded broker) → ingest → DuckDB → derived series, forecasts,
alert rules → delivery (incl. ``--notify-webhook``) → API and dashboard.

Everything runs on the simulator's clock, so rules, forecasts and the API see simulated time.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

from core.catalogue import Catalogue
from core.store import Store

from ..services import build_edge, build_ingest, station_devices

log = logging.getLogger(__name__)
# A simulated logger waits this many real seconds at least for the edge's acknowledgement
# before sending again (its own timeout is simulated seconds: at 3600x a few milliseconds).
# With the rules, forecasts and API sharing the machine an acknowledgement can take a second;
# shorter waits resent data that was on its way and fed a storm of duplicates.
ACK_FLOOR_REAL_S = 5.0


class ScenarioChain:
    def __init__(self, cat: Catalogue, store: Store, data_dir: Path, mqtt_url: str, *,
                 scenario: str, seed: int, speed: float, duration: str | None,
                 stations: int | None) -> None:
        from firmware_sim import SimClock, Simulation
        self.cat, self.store, self.dir, self.mqtt_url = cat, store, data_dir, mqtt_url
        self.speed, self.duration = speed, duration
        self.sim = Simulation(scenario, seed=seed, stations=stations, duration=duration)
        # the demo's broker is pure Python (~5,000 msg/s): hourly data only
        self.sim.scenario = self.sim.scenario.with_devices(realtime_interval_s=0,
                                                           minute_interval_s=0)
        self.clock = SimClock(self.sim.start.timestamp(), speed)
        self._held: float | None = None
        self.agents: dict[str, object] = {}
        self.ingest = None
        self.report = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run_sim, name="demo-sim", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None

    # -- start, sink first ----------------------------------------------------------------
    def start_ingest(self) -> None:
        from ingest import IngestConfig
        cfg = IngestConfig(mqtt_url=self.mqtt_url, state_path=self.dir / "ingest-state.sqlite",
                           client_id="fenwei-demo-ingest", mqtt_protocol="3.1.1",
                           receive_maximum=1000, flood_rate=0)
        self.ingest = build_ingest(cfg, catalogue=self.cat, store=self.store, clock=self.now)
        self.ingest.start()

    def start_agents(self) -> None:
        from edge.agent import AgentConfig
        by_city: dict[str, list] = {}
        for dev in station_devices(self.cat, (s.id for s in self.sim.stations)):
            by_city.setdefault(self.cat.stations[dev.station].city, []).append(dev)
        for city, devices in sorted(by_city.items()):
            base = AgentConfig()
            cfg = base.model_copy(update={
                "agent_id": f"demo-{city}", "data_dir": self.dir / "edge" / city,
                "devices": tuple(devices),
                "hj212": base.hj212.model_copy(update={"host": "127.0.0.1", "port": 0}),
                "sl651": base.sl651.model_copy(update={"host": "127.0.0.1", "port": 0}),
                # the embedded amqtt broker speaks MQTT 3.1.1 only (and has no ACLs)
                "mqtt": base.mqtt.model_copy(update={"protocol": "3.1.1"})})
            # every "device" and agent shares this one machine's disk: a commit per reading
            # synced to disk (the FULL default, for power cuts at a real site) held the whole
            # chain to ~20 readings/s; NORMAL still survives kill -9
            self.agents[city] = build_edge(cfg, catalogue=self.cat, clock=self.now,
                                           mqtt_url=self.mqtt_url, speed=self.speed,
                                           fsync=False).start()

    def start_sim(self) -> None:
        self._thread.start()

    def _target_for(self, station) -> str:
        agent = self.agents[station.city]
        return f"127.0.0.1:{agent.ports['hj212' if station.kind == 'air' else 'sl651']}"

    def _run_sim(self) -> None:
        async def main():
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.current_task()
            return await self.sim.run(None, None, self.speed, self.duration,
                                      clock=self.clock, target_for=self._target_for,
                                      ack_floor_real_s=ACK_FLOOR_REAL_S)
        try:
            self.report = asyncio.run(main())
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # noqa: BLE001 - reported by the runner
            self.error = exc
            log.exception("simulator stopped with an error")

    def now(self) -> float:
        """Simulated epoch seconds; held where it stood once the period is over and stored
        (nothing more will arrive, so the rules must not read the silence as an outage)."""
        held = self._held
        return self.clock.now_threadsafe() if held is None else held

    # -- progress ------------------------------------------------------------------------
    @property
    def sim_done(self) -> bool:
        return self._thread.ident is not None and not self._thread.is_alive()

    def published(self) -> int:
        return sum(a.stats["agent"].get("published", 0) for a in self.agents.values())

    def queued(self) -> int:
        return sum(a.stats["queue_depth"] for a in self.agents.values())

    def settled(self) -> bool:
        """Everything the devices delivered is published, and everything published stored."""
        if not self.sim_done or self.queued():
            return False
        s = self.ingest.stats()
        if s["buffered_readings"] == 0 and s["stored"] >= self.published():
            if self._held is None:
                self._held = self.clock.now_threadsafe()
            return True
        return False

    # -- stop, source first --------------------------------------------------------------
    def stop(self) -> None:
        if self._loop is not None and self._task is not None and not self.sim_done:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(15) if self._thread.ident else None
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max(1, len(self.agents))) as pool:  # each drains in parallel
            list(pool.map(lambda a: a.stop(), self.agents.values()))
        if self.ingest is not None:
            self.ingest.stop()
