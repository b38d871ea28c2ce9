"""The demo's two data sources behind one small interface.

``generator``: the walking skeleton's generator and simple ingest loop (light, no devices).
A simulator scenario: :class:`ScenarioChain` (devices → edge agents → ingest service).
"""
from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

from core.catalogue import Catalogue
from core.store import Store

from ._generator import Generator, default_start
from ._ingest import SimpleIngest

GENERATOR = "generator"


class GeneratorSource:
    name = GENERATOR

    def __init__(self, cat: Catalogue, store: Store, port: int, *, speed: float, seed: int,
                 span, stations: int | None) -> None:
        self.start_t = default_start()
        self.cat, self.store, self.port = cat, store, port
        self.speed, self.seed, self.span, self.stations = speed, seed, span, stations
        self.gen: Generator | None = None
        self.ingest: SimpleIngest | None = None

    def now(self) -> float:
        t = self.gen.sim_t if self.gen is not None else self.start_t
        return max(t.timestamp(), time.time())

    def sim_time(self) -> datetime:
        return self.gen.sim_t if self.gen else self.start_t

    def start_sink(self) -> None:
        self.ingest = SimpleIngest(self.cat, self.store, "127.0.0.1", self.port, clock=self.now)
        self.ingest.start()

    def start_source(self) -> None:
        end = self.start_t + self.span if self.span else None
        self.gen = Generator(self.cat, "127.0.0.1", self.port, speed=self.speed, seed=self.seed,
                             start=self.start_t, end=end, stations=self.stations)
        self.gen.start()

    def forecasts(self, store, cat, data_dir):
        return None  # the light skeleton issues no forecasts

    def counts(self) -> tuple[int, int, int]:
        """(messages received, readings stored, rejected)."""
        i = self.ingest
        return i.received, i.stored, i.rejected

    def published(self) -> int:
        return self.gen.published if self.gen else 0

    def done(self) -> bool:
        received, stored, rejected = self.counts()
        return self.gen is not None and self.gen.done and stored + rejected >= self.published()

    def stop(self) -> None:
        if self.gen:
            self.gen.stop()
        if self.ingest:
            self.ingest.stop()


class ScenarioSource:
    def __init__(self, cat: Catalogue, store: Store, data_dir: Path, port: int, *,
                 scenario: str, seed: int, speed: float, duration: str | None,
                 stations: int | None) -> None:
        from ._chain import ScenarioChain
        self.name = scenario
        self.chain = ScenarioChain(cat, store, data_dir, f"mqtt://127.0.0.1:{port}",
                                   scenario=scenario, seed=seed, speed=speed,
                                   duration=duration, stations=stations)
        self.now = self.chain.now

    def sim_time(self) -> datetime:
        return datetime.fromtimestamp(self.now(), timezone.utc)

    def forecasts(self, store, cat, data_dir):
        from ..forecast import ScenarioForecasts
        sim = self.chain.sim
        return ScenarioForecasts(store, cat, data_dir, self.now, start=sim.start, truth=sim.truth,
                             seed=sim.seed, speed=self.chain.speed)

    def start_sink(self) -> None:
        self.chain.start_ingest()
        self.chain.start_agents()

    def start_source(self) -> None:
        self.chain.start_sim()

    def counts(self) -> tuple[int, int, int]:
        s = self.chain.ingest.stats()
        return s["received"], s["stored"], s["dead_letters"]

    def published(self) -> int:
        return self.chain.published()

    def done(self) -> bool:
        return self.chain.settled()

    def stop(self) -> None:
        self.chain.stop()
