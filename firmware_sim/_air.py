"""Air pollutants from emissions, ventilation and photochemistry, per city and hour.

PM2.5 is a one-box model per city: the load gains emissions (more in the heating season and,
as secondary aerosol, in humid stagnant air) and loses to ventilation (wind x mixing depth).
A stagnation episode therefore builds PM2.5 over several days and a cold front clears it in
hours. The other pollutants follow from the same drivers.
"""
from __future__ import annotations

import numpy as np

from ._time import HourGrid
from ._weather import TWO_PI, Weather, _ar1

AIR_PARAMS = ("pm25", "pm10", "so2", "no2", "o3", "co",
              "temp", "rh", "pressure", "wind_speed", "wind_dir")
POLLUTANTS = AIR_PARAMS[:6]

E0 = 2.6  # µg/m³ per hour of PM2.5 load at Xi'an outside the heating season
K0, KW = 0.012, 0.045  # ventilation: base loss plus wind x mixing (per hour)


def heating_season(doy: np.ndarray) -> np.ndarray:
    """1 from 15 November to 15 March (smooth edges), else 0."""
    d = (doy - 318.0) % 365.25  # days since 15 November
    return 1.0 / (1.0 + np.exp(-(d - 0.0) / 2.0)) * (1.0 / (1.0 + np.exp((d - 120.0) / 2.0)))


def _weekly(weekday: np.ndarray) -> np.ndarray:
    return np.select([weekday == 5, weekday == 6], [0.94, 0.88], 1.0)


def _traffic(hod: np.ndarray) -> np.ndarray:
    """Twin rush-hour peaks, mean ~1."""
    return (0.65 + 0.45 * np.exp(-0.5 * ((hod - 8.0) / 1.5) ** 2)
            + 0.55 * np.exp(-0.5 * ((hod - 19.0) / 2.0) ** 2)
            + 0.2 * ((hod >= 7) & (hod <= 21)))


def _box(e: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Exact per-hour solution of dC/dt = e - k C with piecewise-constant e, k."""
    decay = np.exp(-k)
    steady = e / k
    out = np.empty_like(e)
    c = steady[0]
    for i in range(len(e)):
        c = steady[i] + (c - steady[i]) * decay[i]
        out[i] = c
    return out


def pollutants(grid: HourGrid, w: Weather, stag: np.ndarray, emission: np.ndarray,
               rng: np.random.Generator) -> dict[str, np.ndarray]:
    n, k = stag.shape
    doy = grid.day_of_year()[:, None]
    hod = grid.local_hour()[:, None]
    heat = heating_season(doy)
    week = _weekly(grid.weekday())[:, None]
    s = np.clip(stag, 0, 1.5)
    humid = np.clip((w.rh - 40.0) / 50.0, 0.0, 1.0)
    noise = np.exp(_ar1(rng, n, k, 8.0, 0.15))
    e_pm = (E0 * emission * (1.0 + 0.9 * heat) * week * (0.85 + 0.15 * _traffic(hod))
            * (1.0 + 1.3 * s * (0.5 + 0.5 * humid)) * noise)
    vent = K0 + KW * w.wind_speed * np.maximum(w.mixing, 0.15)
    load = _box(e_pm, vent)
    surface = 1.0 + 0.22 * np.cos(TWO_PI * (hod - 1.0) / 24.0)  # night maximum, noon minimum
    pm25 = load * surface
    spring = np.clip(np.cos(TWO_PI * (doy - 100) / 365.25), 0, 1) ** 3
    ratio = (1.55 + 0.9 * spring - 0.25 * np.clip(s, 0, 1)) * np.exp(_ar1(rng, n, k, 6.0, 0.08))
    pm10 = pm25 * ratio + 15.0 * emission
    traffic = _traffic(hod) * surface
    no2 = 30.0 * emission * (1.0 + 0.25 * heat) * week * traffic * (1.0 + 1.3 * s)
    no2 = no2 * np.exp(_ar1(rng, n, k, 5.0, 0.15)) / (1.0 + 0.15 * w.wind_speed)
    so2 = (5.0 + 16.0 * heat) * emission * surface * (1.0 + 1.2 * s) * noise
    so2 = so2 * (0.7 + 0.3 * (0.85 + 0.15 * _traffic(hod)))
    co = (0.35 + 0.25 * heat) * emission + 0.0042 * pm25 + 0.02 * _ar1(rng, n, k, 6.0, 1.0)
    o3 = _ozone(w, s, no2, doy, rng)
    return {"pm25": pm25, "pm10": pm10, "so2": so2, "no2": no2, "o3": o3,
            "co": np.clip(co, 0.1, None)}


def _ozone(w: Weather, s: np.ndarray, no2: np.ndarray, doy: np.ndarray,
           rng: np.random.Generator) -> np.ndarray:
    """Background plus photochemical production that peaks mid-afternoon, titrated by NO2."""
    n, k = s.shape
    daily = np.exp(_ar1(rng, n, 1, 48.0, 0.18))
    warm = np.clip(w.temp - 8.0, 0.0, None)
    production = (2.2 * warm + 0.09 * warm ** 2) * daily * (1.0 - 0.6 * np.clip(s, 0, 1))
    # afternoon lag behind the sun: accumulate the shortwave over the preceding hours
    lagged = np.zeros_like(w.solar)
    for lag, wt in ((0, 0.15), (1, 0.25), (2, 0.3), (3, 0.3)):
        lagged[lag:] += wt * w.solar[: n - lag] if lag else wt * w.solar
    background = 46.0 + 14.0 * np.cos(TWO_PI * (doy - 120) / 365.25)
    o3 = background + production * lagged ** 1.3 - 0.25 * no2
    return np.clip(o3 * np.exp(_ar1(rng, n, k, 4.0, 0.08)), 2.0, None)
