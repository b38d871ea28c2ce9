"""Station-level fields and samplers: what one instrument sees of its city's (or river's) truth.

A :class:`Sampler` holds a station's instantaneous values at the top of each hour and answers
point samples (linear interpolation) and interval means (exact integral of the interpolant)
cheaply; devices add a little measurement noise to real-time samples.
"""
from __future__ import annotations

import math
import zlib

import numpy as np

from core.catalogue import Catalogue, Station

from ._air import AIR_PARAMS
from ._physics import Truth, rng_for

HYDRO_PARAMS = ("stage", "discharge", "voltage")
#: Decimal places devices send.
DECIMALS = {"pm25": 1, "pm10": 1, "so2": 1, "no2": 1, "o3": 1, "co": 3, "temp": 1, "rh": 1,
            "pressure": 2, "wind_speed": 1, "wind_dir": 0, "stage": 3, "discharge": 3,
            "voltage": 2}
#: Real-time measurement noise: relative (pollutants) and absolute (meteorology).
_REL_NOISE = {"pm25": 0.03, "pm10": 0.03, "so2": 0.03, "no2": 0.03, "o3": 0.03, "co": 0.02,
              "wind_speed": 0.08, "discharge": 0.003}
_ABS_NOISE = {"temp": 0.1, "rh": 0.5, "pressure": 0.005, "wind_dir": 8.0, "stage": 0.002,
              "voltage": 0.02}
_LIMITS = {"rh": (0.0, 100.0)}


def station_key(station_id: str) -> int:
    return zlib.crc32(station_id.encode())


def _smooth_noise(rng: np.random.Generator, n: int, k: int, width: int, sigma: float):
    white = rng.normal(0.0, sigma * math.sqrt(width), size=(n + width, k))
    c = np.cumsum(white, axis=0)
    return (c[width:] - c[:-width]) / width


class Sampler:
    """Piecewise-linear station series on the hourly grid starting at ``t0`` (epoch s)."""

    __slots__ = ("t0", "params", "v", "d", "integral", "rel", "abs", "circular", "n", "lo", "hi")

    def __init__(self, t0: float, params: tuple[str, ...], values: np.ndarray) -> None:
        self.t0, self.params, self.v = float(t0), params, np.ascontiguousarray(values, float)
        self.n = len(values)
        self.d = np.vstack([np.diff(self.v, axis=0), np.zeros((1, len(params)))])
        self.integral = np.vstack([np.zeros((1, len(params))),
                                   np.cumsum(0.5 * (self.v[1:] + self.v[:-1]), axis=0)])
        self.rel = np.array([_REL_NOISE.get(p, 0.0) for p in params])
        self.abs = np.array([_ABS_NOISE.get(p, 0.0) for p in params])
        self.circular = params.index("wind_dir") if "wind_dir" in params else -1
        self.lo = np.array([_LIMITS.get(p, (0.0, np.inf))[0] if p not in ("temp", "stage")
                            else -np.inf for p in params])
        self.hi = np.array([_LIMITS.get(p, (0.0, np.inf))[1] for p in params])

    @property
    def t_end(self) -> float:
        return self.t0 + (self.n - 1) * 3600.0

    def _pos(self, t: float) -> tuple[int, float]:
        x = (t - self.t0) / 3600.0
        i = min(max(int(x), 0), self.n - 2)
        return i, min(max(x - i, 0.0), 1.0)

    def at(self, t: float) -> np.ndarray:
        i, f = self._pos(t)
        return self._finish(self.v[i] + f * self.d[i])

    def noisy(self, t: float, rng: np.random.Generator) -> np.ndarray:
        i, f = self._pos(t)
        row = self.v[i] + f * self.d[i]
        z = rng.standard_normal(len(row))
        return self._finish(row * (1.0 + self.rel * z) + self.abs * z)

    def mean(self, t0: float, t1: float) -> np.ndarray:
        if t1 <= t0:
            return self.at(t0)
        return self._finish((self._int(t1) - self._int(t0)) * 3600.0 / (t1 - t0))

    def min_max(self, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
        i0, _ = self._pos(t0)
        i1, _ = self._pos(t1)
        rows = [self.at(t0), self.at(t1)]
        if i1 > i0:
            rows.append(self._finish(self.v[i0 + 1 : i1 + 1]))
        stack = np.vstack(rows)
        return stack.min(axis=0), stack.max(axis=0)

    def _int(self, t: float) -> np.ndarray:
        i, f = self._pos(t)
        return self.integral[i] + f * self.v[i] + 0.5 * f * f * self.d[i]

    def _finish(self, row: np.ndarray) -> np.ndarray:
        row = np.clip(row, self.lo, self.hi)
        if self.circular >= 0:
            row[..., self.circular] %= 360.0
        return row


def air_sampler(truth: Truth, station: Station, seed: int) -> Sampler:
    """A station's air series: its city's fields with a fixed siting bias and local noise."""
    rng = rng_for(seed, 100, station_key(station.id))
    c = truth.city_index(station.city) if station.city in truth.cities else 0
    n, k = len(truth.grid), len(AIR_PARAMS)
    cols = []
    bias = rng.lognormal(0.0, 0.08, size=k)
    noise = _smooth_noise(rng, n, k, 4, 0.05)
    for j, p in enumerate(AIR_PARAMS):
        city = truth.air[p][:, c]
        if j < 6:  # pollutants: multiplicative
            cols.append(city * bias[j] * np.exp(noise[:, j]))
        elif p == "temp":
            cols.append(city + (bias[j] - 1.0) * 4 + noise[:, j] * 4)
        elif p == "rh":
            cols.append(np.clip(city + (bias[j] - 1.0) * 25 + noise[:, j] * 30, 5, 100))
        elif p == "pressure":
            cols.append(city + (bias[j] - 1.0) * 0.3)
        elif p == "wind_speed":
            cols.append(city * bias[j] * np.exp(noise[:, j] * 2))
        else:  # wind_dir, unwrapped so interpolation does not sweep through the compass
            cols.append(np.degrees(np.unwrap(np.radians(city))) + noise[:, j] * 100)
    return Sampler(truth.grid.first_s, AIR_PARAMS, np.column_stack(cols))


def hydro_sampler(truth: Truth, station: Station, section: str, seed: int) -> Sampler:
    rng = rng_for(seed, 200, station_key(station.id))
    n = len(truth.grid)
    hod = truth.grid.local_hour()
    sun = np.clip(np.cos(np.pi * (hod - 12.8) / 12.0), 0.0, None)
    voltage = 12.3 + 1.2 * sun + _smooth_noise(rng, n, 1, 6, 0.05)[:, 0]
    values = np.column_stack([truth.stage[section], truth.discharge[section], voltage])
    return Sampler(truth.grid.first_s, HYDRO_PARAMS, values)


def synthetic_air_stations(cat: Catalogue, count: int, seed: int = 0) -> list[Station]:
    """``count`` simulated micro-stations spread over the catalogue's cities (deterministic)."""
    rng = rng_for(seed, 300)
    cities = list(cat.cities.values())
    out = []
    for i in range(count):
        city = cities[i % len(cities)]
        out.append(Station(
            id=f"SIMX-{city.slug[:6].upper()}-{i:05d}", name_zh=f"{city.name_zh}微站{i}",
            kind="air", city=city.slug, lat=city.lat + float(rng.uniform(-0.08, 0.08)),
            lon=city.lon + float(rng.uniform(-0.08, 0.08)), national=False, simulated=True,
            interval_s=60))
    return out
