"""Synoptic regime and meteorology: stagnation episodes, cold fronts, city weather.

The regime is two fields per city and hour in 0..~1: ``stag`` (a stagnant, humid, inversion-
capped air mass that lets pollution build) and ``front`` (the cold, dry, windy air behind a
cold front, decaying over a day or two). Episodes move across the region with the wind: each
city sees the onset and the clearing front at its own lag from the reference point (Xi'an).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from ._geo import arrival_lag_h
from ._time import HourGrid

TWO_PI = 2.0 * np.pi


@dataclass(frozen=True)
class Episode:
    """A regional stagnation episode ending with a cold front (times at the reference point)."""

    onset: datetime
    duration_h: float  # onset -> front arrival at the reference point
    intensity: float = 1.0  # 1 = a severe Fen-Wei episode
    cities: tuple[str, ...] | None = None  # None: the whole region
    onset_from_deg: float = 90.0  # the episode spreads from the east (weak easterlies)...
    onset_speed_kmh: float = 12.0
    front_from_deg: float = 315.0  # ... and is swept away by a north-westerly cold front
    front_speed_kmh: float = 35.0
    front_strength: float = 1.0


@dataclass(frozen=True)
class Front:
    """A cold front on its own (no preceding episode)."""

    at: datetime
    strength: float = 1.0
    from_deg: float = 315.0
    speed_kmh: float = 35.0


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def _ar1(rng: np.random.Generator, n: int, k: int, tau_h: float, sigma: float) -> np.ndarray:
    """AR(1) noise (n hours x k series), stationary std ``sigma``, correlation time ``tau_h``."""
    phi = np.exp(-1.0 / tau_h)
    eps = rng.normal(0.0, sigma * np.sqrt(1 - phi * phi), size=(n, k))
    eps[0] = rng.normal(0.0, sigma, size=k)
    out = np.empty_like(eps)
    acc = eps[0]
    out[0] = acc
    for i in range(1, n):  # n is a few hundred to a few thousand: cheap
        acc = phi * acc + eps[i]
        out[i] = acc
    return out


def front_pulse(t_rel: np.ndarray) -> np.ndarray:
    """Shape of a front's passage: sharp arrival, about a day and a half to fade."""
    return _sigmoid(t_rel / 1.5) * np.exp(-np.maximum(t_rel, 0.0) / 30.0)


def regime(grid: HourGrid, x: np.ndarray, y: np.ndarray, cities: list[str], trap: np.ndarray,
           episodes: list[Episode], fronts: list[Front], variability: float,
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(stag, front) arrays of shape (hours, cities)."""
    t = grid.hours.astype(float)[:, None]
    stag = np.zeros((len(grid), len(cities)))
    front = np.zeros_like(stag)
    for ep in episodes:
        mask = np.array([ep.cities is None or c in ep.cities for c in cities], dtype=float)
        on = ep.onset.timestamp() / 3600 + arrival_lag_h(x, y, ep.onset_from_deg, ep.onset_speed_kmh)
        tf0 = ep.onset.timestamp() / 3600 + ep.duration_h
        off = tf0 + arrival_lag_h(x, y, ep.front_from_deg, ep.front_speed_kmh)
        s = ep.intensity * _sigmoid((t - on) / 5.0) * _sigmoid((off - t) / 1.5)
        stag = np.maximum(stag, s * (mask * trap + (1 - mask) * 0.35 * trap))
        front += ep.front_strength * front_pulse(t - off)
    for fr in fronts:
        arr = fr.at.timestamp() / 3600 + arrival_lag_h(x, y, fr.from_deg, fr.speed_kmh)
        front += fr.strength * front_pulse(t - arr)
    # Ordinary day-to-day weather: mild, slowly varying stagnation, regional plus local.
    common = _ar1(rng, len(grid), 1, 40.0, 1.0)
    local = _ar1(rng, len(grid), len(cities), 20.0, 0.5)
    background = 0.12 * variability * _sigmoid(common + local - 0.5) * trap
    stag = np.clip(np.maximum(stag, background) * (1.0 - np.clip(front, 0, 1)), 0.0, 1.5)
    return stag, np.clip(front, 0.0, 2.0)


@dataclass
class Weather:
    """Hourly city meteorology, each (hours, cities)."""

    temp: np.ndarray  # °C
    rh: np.ndarray  # %
    pressure: np.ndarray  # kPa
    wind_speed: np.ndarray  # m/s
    wind_dir: np.ndarray  # degrees the wind blows from
    solar: np.ndarray  # 0..1 clear-sky-ish shortwave index
    mixing: np.ndarray  # relative boundary-layer depth (mean ~1)


def _season(doy: np.ndarray, peak_doy: float) -> np.ndarray:
    """Cosine annual cycle, +1 at ``peak_doy`` and -1 half a year later."""
    return np.cos(TWO_PI * (doy - peak_doy) / 365.25)


def weather(grid: HourGrid, stag: np.ndarray, front: np.ndarray, lat: np.ndarray,
            altitude: np.ndarray, rng: np.random.Generator) -> Weather:
    n, k = stag.shape
    doy = grid.day_of_year()[:, None]
    hod = grid.local_hour()[:, None]
    summer = _season(doy, 197)  # +1 mid July
    day_cycle = np.cos(TWO_PI * (hod - 15.0) / 24.0)  # +1 at 15:00 CST
    # Temperature: annual cycle, altitude lapse, latitude, diurnal range damped by stagnation.
    t_clim = 14.0 + 13.5 * summer - 6.5e-3 * (altitude - 400) - 0.8 * (lat - 34.3)
    dtr = (5.0 + 1.0 * summer) * (1.0 - 0.45 * np.clip(stag, 0, 1))
    synoptic_t = _ar1(rng, n, 1, 60.0, 2.0) + _ar1(rng, n, k, 12.0, 0.6)
    temp = t_clim + dtr * day_cycle + synoptic_t + 1.5 * stag - 8.0 * front
    # Humidity: seasonal, anti-phase with temperature, wetter in stagnation, dry behind fronts.
    rh_clim = 62.0 + 8.0 * _season(doy, 260)  # wettest in the autumn rains
    rh = rh_clim - 14.0 * day_cycle + 22.0 * stag - 28.0 * front + _ar1(rng, n, k, 18.0, 6.0)
    rh = np.clip(rh, 8.0, 100.0)
    # Pressure (kPa): altitude, winter high, slight fall in stagnation, jump behind fronts.
    p0 = 101.325 * np.exp(-altitude / 8400.0)
    pressure = (p0 - 0.65 * summer - 0.25 * stag + 0.9 * front
                + _ar1(rng, n, 1, 72.0, 0.35) + 0.05 * np.cos(TWO_PI * (hod - 10) / 12))
    # Wind: afternoon maximum, spring windier, calm in stagnation, strong north-westerly fronts.
    spring = np.clip(_season(doy, 100), 0, 1)
    ws_clim = (1.9 + 0.7 * spring) * (1.0 + 0.35 * day_cycle)
    ws = ws_clim * np.exp(_ar1(rng, n, k, 10.0, 0.25)) * (1.0 - 0.7 * np.clip(stag, 0, 1))
    wind_speed = np.clip(ws + 5.0 * front, 0.1, None)
    prevailing = np.where(summer > 0, 80.0, 55.0)  # easterly basin flow, NE in winter
    wander = np.degrees(_ar1(rng, n, k, 8.0, 0.9))
    calm = np.clip(stag, 0, 1) * 0.8
    wd = prevailing + wander * (1.0 + calm)
    f = np.clip(front, 0, 1)
    wind_dir = _blend_dir(wd, 315.0, f)
    # Shortwave: daylight bell, longer in summer, dimmed by haze.
    day_len = 12.0 + 2.3 * summer
    sun = np.clip(np.cos(np.pi * (hod - 12.8) / day_len), 0.0, None)
    solar = sun * (0.75 + 0.25 * summer) * (1.0 - 0.5 * np.clip(stag, 0, 1))
    mixing = (1.0 + 0.45 * day_cycle) * (1.0 + 0.4 * summer) * (1.0 - 0.55 * np.clip(stag, 0, 1))
    mixing = mixing * (1.0 + 0.8 * f)
    return Weather(np.round(temp, 2), rh, pressure, wind_speed, wind_dir % 360.0, solar, mixing)


def _blend_dir(a_deg: np.ndarray, b_deg: float, w: np.ndarray) -> np.ndarray:
    a, b = np.radians(a_deg), np.radians(b_deg)
    u = (1 - w) * np.sin(a) + w * np.sin(b)
    v = (1 - w) * np.cos(a) + w * np.cos(b)
    return np.degrees(np.arctan2(u, v))
