"""Unit conversions and the hour convention of the import formats (docs/catalogue.md).

Every conversion takes and returns numpy arrays (NaN stays NaN) and is tested against values
worked by hand in tests/ingest/test_import_units.py.
"""
from __future__ import annotations

import numpy as np

#: 16-point compass, clockwise from north, 22.5 degrees apart (PRSA's ``wd``)
COMPASS = ("N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE",
           "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW")
COMPASS_DEG = {name: 22.5 * i for i, name in enumerate(COMPASS)}

#: Magnus formula over water, Alduchov and Eskridge (1996) coefficients:
#: e_s(T) = 6.1094 exp(17.625 T / (T + 243.04)) hPa, T in degrees C
MAGNUS_A, MAGNUS_B, MAGNUS_C = 6.1094, 17.625, 243.04

#: seconds: a value labelled hour H is the mean over H-1..H (CNEMC's convention, also the PRSA
#: files'); the store keys a reading by the start of its period, so ts = label - 1 h
HOUR = 3600


def ug_to_mg(values: np.ndarray) -> np.ndarray:
    """µg/m³ -> mg/m³ (PRSA's CO): divide by 1000."""
    return np.asarray(values, dtype="float64") / 1000.0


def hpa_to_kpa(values: np.ndarray) -> np.ndarray:
    """hPa -> kPa (PRSA's PRES): divide by 10."""
    return np.asarray(values, dtype="float64") / 10.0


def saturation_vapour_pressure(temp_c: np.ndarray) -> np.ndarray:
    """e_s in hPa over water at ``temp_c`` (Magnus)."""
    t = np.asarray(temp_c, dtype="float64")
    return MAGNUS_A * np.exp(MAGNUS_B * t / (t + MAGNUS_C))


def rh_from_dewpoint(temp_c: np.ndarray, dew_c: np.ndarray) -> np.ndarray:
    """Relative humidity in % = 100 e_s(dew point) / e_s(air temperature), rounded to 0.01 %
    (a dew point equal to the temperature is exactly 100); not clipped, so a dew point above
    the temperature gives more than 100 and is refused as out of range."""
    rh = 100.0 * saturation_vapour_pressure(dew_c) / saturation_vapour_pressure(temp_c)
    return np.round(rh, 2)


def compass_to_deg(names) -> tuple[np.ndarray, np.ndarray]:
    """16-point compass names -> degrees; also a mask of the names that are not compass points
    (missing names give NaN and are not in the mask)."""
    out = np.full(len(names), np.nan)
    bad = np.zeros(len(names), dtype=bool)
    for i, name in enumerate(names):
        if name is None or (isinstance(name, float) and np.isnan(name)):
            continue
        deg = COMPASS_DEG.get(str(name).strip().upper())
        if deg is None:
            bad[i] = True
        else:
            out[i] = deg
    return out, bad


def label_to_period_start(label_epoch_s: np.ndarray) -> np.ndarray:
    """Epoch seconds of an hour's label (its end) -> of the period's start."""
    return np.asarray(label_epoch_s, dtype="int64") - HOUR
