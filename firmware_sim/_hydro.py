"""River discharge at the gauged sections: seasonal runoff, irrigation, storms, routing.

Each river's sections are routed upstream to downstream: the flow leaving a section (less any
irrigation abstraction) reaches the next one ``travel_h_to_next`` hours later, attenuated by a
linear reservoir, and gains the local inflow between them plus any tributary that joins above
it. Stage follows discharge through a power-law rating curve. Means, datums and the monthly
runoff and abstraction shapes are modelling assumptions, not gauge statistics.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from ._time import HourGrid
from ._weather import _ar1

#: Long-term mean discharge (m³/s) per section: DOMAIN.md runoff figures, spread plausibly.
MEAN_FLOW = {"linjiacun": 79.0, "weijiabao": 95.0, "xianyang-wei": 171.0, "lintong": 250.0,
             "huaxian": 279.0, "zhangjiashan": 45.0, "zhuangtou": 25.0, "hejin": 25.0}
#: Bed datum (m above sea level) for the rating curves.
DATUM = {"linjiacun": 600.0, "weijiabao": 495.0, "xianyang-wei": 381.0, "lintong": 351.0,
         "huaxian": 332.0, "zhangjiashan": 420.0, "zhuangtou": 362.0, "hejin": 372.0}
#: Monthly runoff relative to the annual mean (Jan..Dec): dry winter and spring, wet autumn.
MONTHLY_RUNOFF = np.array([0.38, 0.37, 0.45, 0.50, 0.58, 0.55, 1.35, 1.60, 2.15, 1.90, 0.95,
                           0.52])
MONTHLY_RUNOFF = MONTHLY_RUNOFF / MONTHLY_RUNOFF.mean()
#: Fraction diverted for irrigation below each section (Jan..Dec), at scale 1.
MONTHLY_IRRIGATION = np.array([0.04, 0.05, 0.15, 0.28, 0.30, 0.20, 0.12, 0.06, 0.03, 0.03,
                               0.10, 0.05])
#: Storms per day over the whole region, by month: the summer flood season dominates.
MONTHLY_STORMS = np.array([0.0, 0.0, 0.01, 0.03, 0.05, 0.08, 0.22, 0.25, 0.18, 0.08, 0.02, 0.0])
RATING_DEPTH_AT_MEAN = 2.0  # m of water over the datum at mean flow
RATING_EXPONENT = 1.6


@dataclass(frozen=True)
class Flood:
    """A storm hydrograph injected at one section (peak added to its local inflow)."""

    at: datetime
    section: str
    peak_m3s: float
    time_to_peak_h: float = 10.0


@dataclass(frozen=True)
class HydroConfig:
    runoff_factor: float = 1.0  # scales all natural runoff (drought < 1 < wet year)
    irrigation: float = 1.0  # scales the monthly abstraction fractions
    storm_rate: float = 1.0  # scales the storm frequency
    floods: tuple[Flood, ...] = ()


def _monthly(table: np.ndarray, doy: np.ndarray) -> np.ndarray:
    """Periodic linear interpolation of a Jan..Dec table at fractional day of year."""
    mid = (np.arange(12) + 0.5) * 365.25 / 12
    return np.interp(doy, mid, table, period=365.25)


def _hydrograph(t_rel: np.ndarray, tp: float) -> np.ndarray:
    z = np.clip(t_rel / tp, 0.0, None)
    return z ** 3 * np.exp(3.0 * (1.0 - z))


def _route(q: np.ndarray, travel_h: float) -> np.ndarray:
    lag = int(round(travel_h))
    shifted = np.concatenate([np.full(lag, q[0]), q[: len(q) - lag]]) if lag else q
    k = max(travel_h * 0.25, 0.5)
    kernel = np.exp(-np.arange(int(6 * k) + 1) / k)
    kernel /= kernel.sum()
    padded = np.concatenate([np.full(len(kernel) - 1, shifted[0]), shifted])
    return np.convolve(padded, kernel, mode="valid")


def discharge(grid: HourGrid, rivers: list[tuple[str, list[tuple[str, float]], str | None,
                                                   str | None]],
              cfg: HydroConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Discharge per section id. ``rivers``: (id, [(section, travel_h)], joins, joins_above),
    listed tributaries first."""
    n = len(grid)
    doy = grid.day_of_year()
    season = _monthly(MONTHLY_RUNOFF, doy) * cfg.runoff_factor
    irrigation = np.clip(_monthly(MONTHLY_IRRIGATION, doy) * cfg.irrigation, 0.0, 0.95)
    storms, floods = _storms(grid, doy, cfg, rng)
    out: dict[str, np.ndarray] = {}
    joining: dict[tuple[str, str | None], list[tuple[np.ndarray, float]]] = {}
    for river, sections, joins, joins_above in rivers:
        q_prev, mean_prev = None, 0.0
        for sec, travel in sections:
            mean = MEAN_FLOW.get(sec, 20.0)
            joined = joining.pop((river, sec), [])
            tribs = [q for q, _ in joined]
            trib_mean = sum(m for _, m in joined)
            local_mean = max(mean - mean_prev - trib_mean, 0.08 * mean)
            wiggle = np.exp(_ar1(rng, n, 1, 96.0, 0.12)[:, 0])
            storm = storms.get(sec, 0.0) * local_mean * cfg.runoff_factor
            local = local_mean * season * wiggle + storm + floods.get(sec, 0.0)
            q = local + sum(tribs) if tribs else local
            if q_prev is not None:
                q = q + q_prev
            out[sec] = np.maximum(q, 0.0)
            mean_prev = mean
            q_prev = _route(out[sec] * (1.0 - irrigation), travel) if travel > 0 else None
            last = (sec, travel)
        if joins is not None:
            routed = _route(out[last[0]], last[1])
            joining.setdefault((joins, joins_above), []).append(
                (routed, MEAN_FLOW.get(last[0], 20.0)))
    return out


def _storms(grid: HourGrid, doy: np.ndarray, cfg: HydroConfig, rng: np.random.Generator
            ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Random storms (relative to the local inflow) and the scenario's floods (m³/s)."""
    t = grid.hours.astype(float)
    out: dict[str, np.ndarray] = {}
    floods: dict[str, np.ndarray] = {}
    rate_per_h = _monthly(MONTHLY_STORMS, doy) * cfg.storm_rate / 24.0
    hits = rng.random(len(t)) < rate_per_h
    names = list(MEAN_FLOW)
    weights = np.array([MEAN_FLOW[s] for s in names])
    for i in np.flatnonzero(hits):
        sec = names[rng.choice(len(names), p=weights / weights.sum())]
        peak = 6.0 * rng.lognormal(0.0, 0.6)
        out[sec] = out.get(sec, 0.0) + peak * _hydrograph(t - t[i], rng.uniform(6, 16))
    for fl in cfg.floods:
        t0 = fl.at.timestamp() / 3600.0
        floods[fl.section] = floods.get(fl.section, 0.0) + fl.peak_m3s * _hydrograph(
            t - t0, fl.time_to_peak_h)
    return out, floods


def stage(section: str, q: np.ndarray) -> np.ndarray:
    """Stage (m) from discharge by the section's rating curve."""
    c = MEAN_FLOW.get(section, 20.0) / RATING_DEPTH_AT_MEAN ** RATING_EXPONENT
    return DATUM.get(section, 400.0) + (np.maximum(q, 0.0) / c) ** (1.0 / RATING_EXPONENT)
