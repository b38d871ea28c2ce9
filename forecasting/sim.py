"""Adapter to the firmware simulator: winter seasons, truth into a store, a met forecast feed.

The simulator (``firmware_sim``) gives hourly per-city truth for a :class:`PhysicsConfig`.
Three things the forecasting service needs are not (yet) part of it, so they live here:

* :func:`winter_physics`: a seeded season of stagnation episodes and cold fronts;
* :func:`write_truth`: the truth as hourly readings (one station per city, one gauge per
  section) written straight into a store, no TCP;
* :class:`SimMetFeed`: a meteorological forecast feed made from the truth with configurable
  error (timing error of the synoptic regime growing with lead time, amplitude error, noise).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

from core.wire import Reading
from firmware_sim import Episode, Front, HourGrid, PhysicsConfig, Truth, compute_truth, rng_for

from ._met import MET_VARS, MetForecast

_S_SEASON, _S_FEED = 101, 102


def winter_physics(seed: int, start: datetime, days: float) -> PhysicsConfig:
    """Episodes every few days (36-150 h, intensity 0.45-1), each ended by a cold front."""
    rng = rng_for(seed, _S_SEASON)
    episodes, fronts = [], []
    t = start + timedelta(days=float(rng.uniform(1, 4)))
    end = start + timedelta(days=days)
    while t < end:
        dur = float(rng.uniform(36, 150))
        regional = rng.random() < 0.8
        cities = None if regional else tuple(rng.choice(
            ["xian", "xianyang", "weinan", "baoji", "yangling", "tongchuan", "yuncheng",
             "linfen", "sanmenxia", "luoyang"], size=int(rng.integers(3, 8)), replace=False))
        episodes.append(Episode(
            onset=t, duration_h=dur, intensity=float(rng.uniform(0.45, 1.0)), cities=cities,
            onset_from_deg=float(rng.uniform(45, 135)), onset_speed_kmh=float(rng.uniform(8, 16)),
            front_from_deg=float(rng.uniform(290, 340)), front_speed_kmh=float(rng.uniform(25, 45)),
            front_strength=float(rng.uniform(0.7, 1.3))))
        gap = float(rng.uniform(2.0, 9.0))
        if gap > 5 and rng.random() < 0.5:  # a dry front in a long clean spell
            fronts.append(Front(t + timedelta(hours=dur + 24 * gap / 2),
                                float(rng.uniform(0.4, 0.9))))
        t = t + timedelta(hours=dur) + timedelta(days=gap)
    return PhysicsConfig(episodes=tuple(episodes), fronts=tuple(fronts))


def simulate(cat, start: datetime, days: float, seed: int) -> Truth:
    """Hourly truth for every catalogue city and section over a simulated winter season."""
    grid = HourGrid.span(start, start + timedelta(days=days))
    return compute_truth(cat, grid, winter_physics(seed, start, days), seed)


def _stations(cat, truth: Truth) -> dict[str, str]:
    return {c: cat.stations_of(c, "air")[0].id for c in truth.cities if cat.stations_of(c, "air")}


def write_truth(store, cat, truth: Truth, *, since: datetime | None = None,
                until: datetime | None = None, kinds=("air", "hydro")) -> int:
    """Write hour means of the truth as ``PT1H`` readings (those of ``kinds`` starting in
    [``since``, ``until``) when given); returns the number of readings."""
    params = ["pm25", "pm10", "so2", "no2", "o3", "co", "temp", "rh", "pressure",
              "wind_speed", "wind_dir"]
    frames = {p: truth.city_hourly(p) for p in params}
    frames["wind_dir"] = truth.city_frame("wind_dir").iloc[:-1]  # circular: no averaging
    index = frames["pm25"].index
    readings = []
    for city, station in _stations(cat, truth).items():
        cols = {p: np.round(frames[p][city].to_numpy(float), 3) for p in params}
        for i, ts in enumerate(index.to_pydatetime()):
            readings.append(Reading(station, city, "air", ts, "PT1H",
                                    {p: float(cols[p][i]) for p in params}))
    q = truth.section_frame("discharge")
    qh = 0.5 * (q.iloc[:-1].to_numpy() + q.iloc[1:].to_numpy())
    for j, sec in enumerate(q.columns):
        st = truth.section_station.get(sec, sec)
        city = cat.sections[sec].city
        for i, ts in enumerate(q.index[:-1].to_pydatetime()):
            readings.append(Reading(st, city, "hydro", ts, "PT1H",
                                    {"discharge": round(float(qh[i, j]), 3)}))
    readings = [r for r in readings if r.kind in kinds and (since is None or r.ts >= since)
                and (until is None or r.ts < until)]
    n = 0
    for k in range(0, len(readings), 50_000):
        n += store.write(readings[k:k + 50_000])
    return n


@dataclass(frozen=True)
class MetError:
    """Forecast error of the simulated feed, per day of lead time (grows as sqrt or linearly)."""

    timing_h_per_day: float = 4.0  # synoptic timing error (fronts, onsets), hours per lead day
    stag_amp_per_day: float = 0.10  # relative amplitude error of the stagnation index
    stag_noise: float = 0.05
    wind_rel_per_day: float = 0.12
    temp_per_day: float = 1.0  # °C
    rh_per_day: float = 5.0  # %
    pressure_per_day: float = 0.15  # kPa
    dir_per_day: float = 15.0  # degrees

    @classmethod
    def preset(cls, name: str) -> "MetError":
        scale = {"perfect": 0.0, "good": 0.5, "moderate": 1.0, "poor": 2.0}
        if name not in scale:
            raise ValueError(f"unknown met error preset {name!r}; one of {sorted(scale)}")
        k = scale[name]
        return cls(*(k * v for v in cls().__dict__.values()))


class SimMetFeed:
    """Meteorological forecasts made from simulated truth with :class:`MetError`.

    ``forecast(issue, cities, horizon_h)`` returns hourly forecasts for the hours starting at
    ``issue`` .. ``issue + horizon_h - 1 h`` (hour means), deterministic per (seed, issue).
    """

    def __init__(self, truths: list[Truth], error: MetError | None = None, seed: int = 0):
        self.error, self.seed = error or MetError(), seed
        parts = []
        for tr in truths:
            f = {v: _truth_var(tr, v) for v in MET_VARS}
            parts.append(pd.concat(f, axis=1))
        wide = pd.concat(parts).sort_index()
        wide = wide[~wide.index.duplicated()]
        self.index = pd.date_range(wide.index[0], wide.index[-1], freq="h", unit="s")
        wide = wide.reindex(self.index)
        self.cities = list(truths[0].cities)
        self.data = {v: wide[v][self.cities].to_numpy(float) for v in MET_VARS}

    def forecast(self, issue: datetime, cities: list[str], horizon_h: int = 96
                 ) -> MetForecast | None:
        i0 = int((pd.Timestamp(issue) - self.index[0]) // pd.Timedelta(hours=1))
        if i0 < 0 or i0 + horizon_h + 24 > len(self.index):
            return None
        cols = [self.cities.index(c) for c in cities]
        hours0 = int(pd.Timestamp(issue).timestamp() // 3600)
        rng = rng_for(self.seed, _S_FEED, hours0)
        e, k = self.error, len(cols)
        lead = np.arange(1, horizon_h + 1)[:, None] / 24.0
        tau = e.timing_h_per_day * (0.7 * rng.normal() + 0.7 * rng.normal(size=k))
        shift = np.clip(i0 + np.arange(horizon_h)[:, None] + tau * lead, 0, len(self.index) - 1)
        out = {v: _sample(self.data[v][:, cols], shift) for v in MET_VARS}
        z = lambda sd: sd * np.sqrt(lead) * (0.8 * rng.normal(size=k)  # noqa: E731
                                             + 0.3 * rng.normal(size=(horizon_h, k)))
        amp = 1.0 + e.stag_amp_per_day * lead * rng.normal(size=k)
        out["stagnation"] = np.clip(out["stagnation"] * amp + e.stag_noise * np.sqrt(lead)
                                    * rng.normal(size=(horizon_h, k)), 0.0, 1.5)
        out["wind_speed"] = np.clip(out["wind_speed"] * np.exp(z(e.wind_rel_per_day)), 0.1, None)
        out["temp"] = out["temp"] + z(e.temp_per_day)
        out["rh"] = np.clip(out["rh"] + z(e.rh_per_day), 5.0, 100.0)
        out["pressure"] = out["pressure"] + z(e.pressure_per_day)
        out["wind_dir"] = (out["wind_dir"] + z(e.dir_per_day)) % 360.0
        valid = self.index[i0:i0 + horizon_h]
        return MetForecast(pd.Timestamp(issue).to_pydatetime(), valid, list(cities), out)


def _truth_var(tr: Truth, var: str) -> pd.DataFrame:
    if var == "stagnation":
        v = tr.stag
        return pd.DataFrame(0.5 * (v[:-1] + v[1:]), index=tr.grid.index()[:-1],
                            columns=tr.cities)
    if var == "wind_dir":
        return tr.city_frame("wind_dir").iloc[:-1]
    return tr.city_hourly(var)


def _sample(arr: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Linear interpolation of arr (T, K) at fractional rows pos (H, K)."""
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(arr) - 1)
    w = pos - lo
    cols = np.arange(arr.shape[1])[None, :]
    return arr[lo, cols] * (1 - w) + arr[hi, cols] * w


def utc(ts: datetime) -> datetime:
    return ts.astimezone(timezone.utc)
