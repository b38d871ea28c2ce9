"""The physics layer: (time grid, seed, scenario physics) -> hourly truth per city and section.

Everything here is vectorised numpy over the whole grid and deterministic for a seed; each
component draws from its own seeded stream, so e.g. adding a station never changes a city.
Devices only sample the result (see :mod:`._stations`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pandas as pd

from core.catalogue import Catalogue

from ._air import AIR_PARAMS, pollutants
from ._geo import climate, offsets_km
from ._hydro import Flood, HydroConfig, discharge, stage
from ._time import HourGrid
from ._weather import Episode, Front, Weather, regime, weather

# Streams of the seed, one per component.
_S_REGIME, _S_WEATHER, _S_AIR, _S_HYDRO, _S_JITTER = 1, 2, 3, 4, 5


def rng_for(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *key]))


@dataclass(frozen=True)
class PhysicsConfig:
    """The scenario's say over the physics (see scenarios/*.toml)."""

    episodes: tuple[Episode, ...] = ()
    fronts: tuple[Front, ...] = ()
    variability: float = 1.0  # ordinary day-to-day stagnation (0 = always well ventilated)
    emission_factor: float = 1.0
    hydro: HydroConfig = field(default_factory=HydroConfig)
    jitter_h: float = 4.0  # seed-dependent shift of episode and front timing
    jitter_intensity: float = 0.06


@dataclass
class Truth:
    """Hourly instantaneous fields at the top of each hour of ``grid``.

    ``air[param]`` and ``stag``/``front`` are (hours, cities); ``discharge``/``stage`` map a
    section id to (hours,). Hour means over [h, h+1) are the mean of hours h and h+1.
    """

    grid: HourGrid
    cities: list[str]
    air: dict[str, np.ndarray]
    stag: np.ndarray
    front: np.ndarray
    discharge: dict[str, np.ndarray]
    stage: dict[str, np.ndarray]
    section_station: dict[str, str]
    seed: int

    def city_index(self, city: str) -> int:
        return self.cities.index(city)

    def city_frame(self, param: str) -> pd.DataFrame:
        """Instantaneous hourly values, index ts (UTC), one column per city."""
        return pd.DataFrame(self.air[param], index=self.grid.index(), columns=self.cities)

    def city_hourly(self, param: str) -> pd.DataFrame:
        """Hour means over [ts, ts+1h), index ts (UTC), one column per city."""
        v = self.air[param]
        if param == "wind_dir":  # circular: average the unit vectors
            r = np.radians(v)
            mean = np.degrees(np.arctan2(np.sin(r[:-1]) + np.sin(r[1:]),
                                         np.cos(r[:-1]) + np.cos(r[1:]))) % 360.0
        else:
            mean = 0.5 * (v[:-1] + v[1:])
        return pd.DataFrame(mean, index=self.grid.index()[:-1], columns=self.cities)

    def city_daily(self, param: str) -> pd.DataFrame:
        """Means per CST calendar day (complete days only)."""
        h = self.city_hourly(param)
        local = h.index.tz_convert("Asia/Shanghai")
        g = h.groupby(local.date)
        return g.mean()[g.size() == 24]

    def section_frame(self, what: str = "discharge") -> pd.DataFrame:
        src = self.discharge if what == "discharge" else self.stage
        return pd.DataFrame(src, index=self.grid.index())


def _jittered(cfg: PhysicsConfig, seed: int) -> tuple[list[Episode], list[Front]]:
    rng = rng_for(seed, _S_JITTER)
    eps = []
    for ep in cfg.episodes:
        shift = timedelta(hours=float(rng.uniform(-1, 1) * cfg.jitter_h))
        dur = ep.duration_h + float(rng.uniform(-1, 1) * cfg.jitter_h)
        scale = 1.0 + float(rng.uniform(-1, 1) * cfg.jitter_intensity)
        eps.append(Episode(ep.onset + shift, dur, ep.intensity * scale, ep.cities,
                           ep.onset_from_deg, ep.onset_speed_kmh, ep.front_from_deg,
                           ep.front_speed_kmh, ep.front_strength))
    fronts = [Front(f.at + timedelta(hours=float(rng.uniform(-1, 1) * cfg.jitter_h)),
                    f.strength, f.from_deg, f.speed_kmh) for f in cfg.fronts]
    return eps, fronts


def _river_layout(cat: Catalogue) -> list:
    rivers = sorted(cat.rivers.values(), key=lambda r: r.joins is None)  # tributaries first
    return [(r.id, [(s.id, s.travel_h_to_next) for s in cat.river_sections(r.id)], r.joins,
             r.joins_above) for r in rivers]


def compute_truth(cat: Catalogue, grid: HourGrid, cfg: PhysicsConfig, seed: int,
                  cities: list[str] | None = None) -> Truth:
    cities = list(cities or cat.cities)
    lat = np.array([cat.cities[c].lat for c in cities])
    lon = np.array([cat.cities[c].lon for c in cities])
    x, y = offsets_km(lat, lon)
    clim = [climate(c) for c in cities]
    trap = np.array([c.trap for c in clim])
    emission = np.array([c.emission for c in clim]) * cfg.emission_factor
    altitude = np.array([c.altitude_m for c in clim])
    episodes, fronts = _jittered(cfg, seed)
    stag, front = regime(grid, x, y, cities, trap, episodes, fronts, cfg.variability,
                         rng_for(seed, _S_REGIME))
    w: Weather = weather(grid, stag, front, lat, altitude, rng_for(seed, _S_WEATHER))
    air = pollutants(grid, w, stag, emission, rng_for(seed, _S_AIR))
    air.update(temp=w.temp, rh=w.rh, pressure=w.pressure, wind_speed=w.wind_speed,
               wind_dir=w.wind_dir)
    air = {p: air[p] for p in AIR_PARAMS}
    q = discharge(grid, _river_layout(cat), cfg.hydro, rng_for(seed, _S_HYDRO))
    stages = {s: stage(s, v) for s, v in q.items()}
    sec_station = {s.id: s.station for s in cat.sections.values()}
    return Truth(grid, cities, air, stag, front, q, stages, sec_station, seed)


__all__ = ["Episode", "Flood", "Front", "HydroConfig", "PhysicsConfig", "Truth",
           "compute_truth", "rng_for"]
