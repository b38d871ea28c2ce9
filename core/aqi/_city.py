"""City AQI: the mean concentration of a city's stations, then the ordinary engine."""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Literal

import numpy as np
import pandas as pd

from core.flags import VALID_FLAGS

from ._engine import daily_aqi, hourly_aqi, rolling_aqi
from ._grid import POLLUTANTS, Grid, to_grid
from .errors import InputError

log = logging.getLogger(__name__)
_PERIODS = {"hourly": hourly_aqi, "daily": daily_aqi, "rolling": rolling_aqi}


def _city_codes(stations: pd.Index, station_city: Mapping[str, str]):
    cities = pd.Series(stations.map(lambda s: station_city.get(s)), dtype=object)
    unmapped = stations[cities.isna().to_numpy()]
    if len(unmapped):
        log.warning("stations without a city ignored: count=%s first=%s", len(unmapped), unmapped[0])
    codes, names = pd.factorize(cities, sort=True)
    if len(names) == 0:
        raise InputError("station_city", "no station of the frame is mapped to a city")
    return codes, names


def _city_means(values: np.ndarray, codes: np.ndarray, n_cities: int) -> np.ndarray:
    keep = codes >= 0
    finite = np.isfinite(values[keep])
    totals = np.zeros((n_cities, values.shape[1]))
    counts = np.zeros((n_cities, values.shape[1]))
    np.add.at(totals, codes[keep], np.where(finite, values[keep], 0.0))
    np.add.at(counts, codes[keep], finite)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, totals / counts, np.nan)


def city_concentrations(
    frame: pd.DataFrame,
    station_city: Mapping[str, str],
    *,
    valid_flags: Iterable[str] = VALID_FLAGS,
) -> pd.DataFrame:
    """Wide hourly frame (``station`` = city, ``ts``, one column per pollutant).

    Each value is the mean of the city's stations' valid values that hour (NaN if none).
    Stations missing from ``station_city`` are ignored (and logged).
    """
    return grid_city_concentrations(to_grid(frame, valid_flags), station_city)


def grid_city_concentrations(grid: Grid, station_city: Mapping[str, str]) -> pd.DataFrame:
    """:func:`city_concentrations` of an already built station grid."""
    codes, cities = _city_codes(grid.stations, station_city)
    cut = slice(grid.first, grid.last + 1)
    hours = np.arange(grid.first, grid.last + 1)
    n = len(hours)
    data = {
        "station": np.repeat(np.asarray(cities, dtype=object), n),
        "ts": pd.DatetimeIndex(np.tile(grid.hour_ns(hours), len(cities)).view("M8[ns]"), tz="UTC"),
    }
    for p in POLLUTANTS:
        data[p] = _city_means(grid.values[p][:, cut], codes, len(cities)).ravel()
    return pd.DataFrame(data)


def city_aqi(
    frame: pd.DataFrame,
    station_city: Mapping[str, str],
    period: Literal["hourly", "daily", "rolling"] = "daily",
    **options,
) -> pd.DataFrame:
    """City AQI frame (``station`` column holds the city) for ``period``.

    ``options`` go to :func:`hourly_aqi`, :func:`daily_aqi` or :func:`rolling_aqi`.
    """
    if period not in _PERIODS:
        raise InputError("period", f"one of {sorted(_PERIODS)}")
    flags = options.pop("valid_flags", VALID_FLAGS)
    return _PERIODS[period](city_concentrations(frame, station_city, valid_flags=flags), **options)
