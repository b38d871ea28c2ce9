"""Per-city modelling assumptions and plane geometry around Xi'an.

The figures below are *modelling assumptions* for a plausible simulation (relative emission,
how much the basin traps pollution, altitude), not measurements. Unknown cities get DEFAULT.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Reference point of relative positions and of episode timing (Xi'an city centre).
REFERENCE = (34.26, 108.94)
KM_PER_DEG = 111.2


@dataclass(frozen=True)
class CityClimate:
    emission: float  # relative primary emission, Xi'an = 1
    trap: float  # how strongly a regional stagnation traps pollution here (basin floor = 1)
    altitude_m: float


CITY_CLIMATE: dict[str, CityClimate] = {
    "xian": CityClimate(1.00, 1.00, 400),
    "xianyang": CityClimate(1.00, 1.00, 400),
    "weinan": CityClimate(0.95, 1.00, 350),
    "baoji": CityClimate(0.80, 0.90, 600),
    "tongchuan": CityClimate(0.80, 0.85, 800),
    "yangling": CityClimate(0.85, 0.95, 450),
    "shangluo": CityClimate(0.50, 0.55, 750),
    "yuncheng": CityClimate(0.95, 1.00, 370),
    "linfen": CityClimate(1.00, 1.00, 450),
    "jinzhong": CityClimate(0.85, 0.85, 800),
    "lvliang": CityClimate(0.75, 0.80, 950),
    "luoyang": CityClimate(0.90, 0.85, 150),
    "sanmenxia": CityClimate(0.85, 0.90, 400),
    "tianshui": CityClimate(0.55, 0.60, 1150),
    "pingliang": CityClimate(0.50, 0.55, 1350),
    "qingyang": CityClimate(0.50, 0.55, 1300),
    "yanan": CityClimate(0.50, 0.55, 960),
}
DEFAULT = CityClimate(0.6, 0.6, 800)


def climate(city: str) -> CityClimate:
    return CITY_CLIMATE.get(city, DEFAULT)


def offsets_km(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """East and north offsets (km) from the reference point."""
    lat0, lon0 = REFERENCE
    x = (np.asarray(lon) - lon0) * KM_PER_DEG * math.cos(math.radians(lat0))
    y = (np.asarray(lat) - lat0) * KM_PER_DEG
    return x, y


def arrival_lag_h(x: np.ndarray, y: np.ndarray, from_deg: float, speed_kmh: float) -> np.ndarray:
    """Hours after the reference point that something coming FROM ``from_deg`` reaches x, y."""
    to = math.radians(from_deg + 180.0)
    along = x * math.sin(to) + y * math.cos(to)
    return along / max(speed_kmh, 1e-3)
