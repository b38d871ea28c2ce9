"""Feature rows for (issue time, city, lead day): recent concentrations and trends, upwind
neighbours, calendar, heating season, observed weather and, when available, the weather
forecast over the lead day's window.

Everything is computed from data strictly before the issue hour (row ``i0`` of the panel is
the first hour forecast). Rows are ordered issue-major, then city, then lead day.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from ._met import MetForecast
from ._panel import POLLUTANTS, Panel

LEAD_DAYS = 4
HORIZON_H = 24 * LEAD_DAYS
BASE = ["city", "lead_d", "issue_hod", "heating", "weekend", "weekday",
        "pm25_1", "pm25_6", "pm25_24", "pm25_72", "pm25_trend", "pm25_3", "pm25_12",
        "pm25_trend6", "pm10_6", "pm10_24", "pm10_trend", "pm25_smax", "pm25_sspread",
        "upwind_pm25", "upwind_excess", "region_pm25", "region_trend", "ws_6", "rh_6",
        "temp_24", "temp_trend", "pres_trend", "wu_6", "wv_6"]
OWN = ["own_1", "own_6", "own_24", "own_72", "own_trend"]
METF = ["f_stag", "f_stag_max", "f_stag_cum", "f_ws", "f_ws_cum", "f_rh", "f_dtemp",
        "f_dpres", "f_vent"]
METF_ALL = METF + ["f_wu", "f_wv", "f_wv_cum", "f_rh_prev"]


def feature_names(pollutant: str, with_met: bool) -> list[str]:
    own = [] if pollutant == "pm25" else OWN
    return BASE + own + (METF if with_met else [])


class Cum:
    """Trailing and window means over a (T, K) array via cumulative sums (NaN-aware)."""

    def __init__(self, arr: np.ndarray) -> None:
        ok = np.isfinite(arr)
        z = np.zeros((1, arr.shape[1]))
        self.s = np.vstack([z, np.cumsum(np.where(ok, arr, 0.0), axis=0)])
        self.n = np.vstack([z, np.cumsum(ok, axis=0)])
        self.T = arr.shape[0]

    def mean(self, a: np.ndarray, b: np.ndarray, min_n: int = 1) -> np.ndarray:
        """Mean of rows [a, b) per issue (a, b: (N,) ints) -> (N, K)."""
        a, b = np.clip(a, 0, self.T), np.clip(b, 0, self.T)
        n = self.n[b] - self.n[a]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n >= min_n, (self.s[b] - self.s[a]) / n, np.nan)


def _neighbour_weights(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bearing (deg, from each city to each other) and distance decay weights (K, K)."""
    y = (lat[None, :] - lat[:, None]) * 111.2
    x = (lon[None, :] - lon[:, None]) * 111.2 * math.cos(math.radians(34.5))
    dist = np.hypot(x, y)
    bearing = np.degrees(np.arctan2(x, y)) % 360.0
    w = np.exp(-dist / 150.0) * (dist > 1.0)
    return bearing, w


class FeatureBuilder:
    """Builds feature rows from a panel (cities with coordinates ``lat``/``lon``)."""

    def __init__(self, panel: Panel, lat, lon) -> None:
        self.p = panel
        self.cum = {k: Cum(v) for k, v in panel.data.items() if k != "wind_dir"}
        rad = np.radians(panel.data["wind_dir"])
        self.cum_u, self.cum_v = Cum(np.sin(rad)), Cum(np.cos(rad))
        self.bearing, self.w = _neighbour_weights(np.asarray(lat), np.asarray(lon))
        self.hours = panel.index.as_unit("s").asi8 // 3600

    def _log(self, key, a, b):
        return np.log1p(np.maximum(self.cum[key].mean(a, b), 0.0))

    def base(self, i0: np.ndarray) -> dict[str, np.ndarray]:
        """Issue-level features (N, K) shared by all pollutants and lead days."""
        f = {}
        for h in (1, 6, 24, 72):
            f[f"pm25_{h}"] = self._log("pm25", i0 - h, i0)
        f["pm25_trend"] = f["pm25_24"] - self._log("pm25", i0 - 48, i0 - 24)
        f["pm25_3"], f["pm25_12"] = self._log("pm25", i0 - 3, i0), self._log("pm25", i0 - 12, i0)
        f["pm25_trend6"] = f["pm25_6"] - self._log("pm25", i0 - 12, i0 - 6)
        f["pm10_6"], f["pm10_24"] = self._log("pm10", i0 - 6, i0), self._log("pm10", i0 - 24, i0)
        f["pm10_trend"] = f["pm10_24"] - self._log("pm10", i0 - 48, i0 - 24)
        for k in ("pm25_smax", "pm25_sspread"):
            f[k] = self.cum[k].mean(i0 - 6, i0) if k in self.cum else np.full(
                f["pm25_6"].shape, np.nan)
        f["pm25_smax"] = np.log1p(np.maximum(f["pm25_smax"], 0.0)) - f["pm25_6"]
        u, v = self.cum_u.mean(i0 - 6, i0), self.cum_v.mean(i0 - 6, i0)
        wind_from = np.degrees(np.arctan2(u, v)) % 360.0  # (N, K)
        ws6 = self.cum["wind_speed"].mean(i0 - 6, i0)
        f["wu_6"], f["wv_6"] = ws6 * u, ws6 * v   # wind from the east / north, m/s
        pm6 = self.cum["pm25"].mean(i0 - 6, i0)
        align = np.cos(np.radians(self.bearing[None, :, :] - wind_from[:, :, None]))
        w = self.w[None] * np.clip(align, 0.0, None)
        w = np.where(np.isfinite(pm6)[:, None, :], w, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            up = np.einsum("nkj,nj->nk", w, np.nan_to_num(pm6)) / w.sum(axis=2)
        up = np.where(w.sum(axis=2) > 0, up, pm6)  # no neighbour upwind: the city itself
        f["upwind_pm25"] = np.log1p(np.maximum(up, 0.0))
        f["upwind_excess"] = f["upwind_pm25"] - f["pm25_6"]
        prev = self._log("pm25", i0 - 48, i0 - 24)
        with warnings.catch_warnings():  # an issue with no data anywhere: NaN, quietly
            warnings.simplefilter("ignore", RuntimeWarning)
            f["region_pm25"] = np.repeat(np.nanmean(f["pm25_24"], axis=1, keepdims=True),
                                         f["pm25_24"].shape[1], axis=1)
            f["region_trend"] = f["region_pm25"] - np.nanmean(prev, axis=1, keepdims=True)
        f["ws_6"] = self.cum["wind_speed"].mean(i0 - 6, i0)
        f["rh_6"] = self.cum["rh"].mean(i0 - 6, i0)
        f["temp_24"] = self.cum["temp"].mean(i0 - 24, i0)
        f["temp_trend"] = f["temp_24"] - self.cum["temp"].mean(i0 - 48, i0 - 24)
        f["pres_6"] = self.cum["pressure"].mean(i0 - 6, i0)
        f["pres_trend"] = f["pres_6"] - self.cum["pressure"].mean(i0 - 30, i0 - 24)
        return f

    def own(self, p: str, i0: np.ndarray) -> dict[str, np.ndarray]:
        f = {f"own_{h}": self._log(p, i0 - h, i0) for h in (1, 6, 24, 72)}
        f["own_trend"] = f["own_24"] - self._log(p, i0 - 48, i0 - 24)
        return f

    def target(self, p: str, i0: np.ndarray, d: int) -> np.ndarray:
        """Mean of the lead-day window [i0 + 24(d-1), i0 + 24d) (>= 20 valid hours)."""
        return self.cum[p].mean(i0 + 24 * (d - 1), i0 + 24 * d, min_n=20)


def _nanmean0(a: np.ndarray) -> np.ndarray:
    """Mean over axis 0 ignoring NaN (all-NaN: NaN), without warnings."""
    ok = np.isfinite(a)
    n = ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.where(ok, a, 0.0).sum(axis=0) / np.maximum(n, 1), np.nan)


def met_features(fcs: list[MetForecast | None], base: dict, n_cities: int
                 ) -> dict[str, np.ndarray]:
    """(N, K, D) forecast features per lead-day window; NaN where no forecast."""
    n = len(fcs)
    out = {k: np.full((n, n_cities, LEAD_DAYS), np.nan) for k in METF_ALL}
    for j, fc in enumerate(fcs):
        if fc is None:
            continue
        d = fc.data
        for k in range(LEAD_DAYS):
            w = slice(24 * k, 24 * (k + 1))
            c = slice(0, 24 * (k + 1))
            out["f_stag"][j, :, k] = d["stagnation"][w].mean(axis=0)
            out["f_stag_max"][j, :, k] = d["stagnation"][w].max(axis=0)
            out["f_stag_cum"][j, :, k] = d["stagnation"][c].mean(axis=0)
            out["f_ws"][j, :, k] = d["wind_speed"][w].mean(axis=0)
            out["f_ws_cum"][j, :, k] = d["wind_speed"][c].mean(axis=0)
            out["f_rh"][j, :, k] = d["rh"][w].mean(axis=0)
            out["f_dtemp"][j, :, k] = d["temp"][w].mean(axis=0)
            out["f_dpres"][j, :, k] = d["pressure"][w].mean(axis=0)
            out["f_vent"][j, :, k] = (d["wind_speed"][w] * (1 - 0.5 * np.clip(
                d["stagnation"][w], 0, 1))).mean(axis=0)
            # wind blowing from the north (+v) / east (+u), speed-weighted, m/s
            rad = np.radians(d["wind_dir"]) if "wind_dir" in d else None
            if rad is not None:
                wu, wv = d["wind_speed"] * np.sin(rad), d["wind_speed"] * np.cos(rad)
                out["f_wu"][j, :, k] = _nanmean0(wu[w])
                out["f_wv"][j, :, k] = _nanmean0(wv[w])
                out["f_wv_cum"][j, :, k] = _nanmean0(wv[c])
            prev = slice(max(24 * k - 12, 0), 24 * k + 12)
            out["f_rh_prev"][j, :, k] = d["rh"][prev].mean(axis=0)
    out["f_dtemp"] -= base["temp_24"][:, :, None]
    out["f_dpres"] -= base["pres_6"][:, :, None]
    return out


def calendar(hours_at_issue: np.ndarray, n_cities: int) -> dict[str, np.ndarray]:
    """(N, K, D) calendar features of each lead-day window."""
    lead = np.arange(1, LEAD_DAYS + 1)
    mid = hours_at_issue[:, None] + 24 * (lead[None, :] - 1) + 12  # (N, D) hours since epoch
    local_day = (mid + 8) // 24
    local = pd.DatetimeIndex(pd.to_datetime((mid.ravel() + 8) * 3600, unit="s"))
    doy = (local.day_of_year.to_numpy() - 1 + local.hour.to_numpy() / 24.0).reshape(mid.shape)
    weekday = (local_day + 3) % 7
    heat_d = (doy - 318.0) % 365.25
    heating = ((heat_d < 120)).astype(float)
    f = {"lead_d": np.broadcast_to(lead[None, :], mid.shape).astype(float),
         "doy_sin": np.sin(2 * np.pi * doy / 365.25), "doy_cos": np.cos(2 * np.pi * doy / 365.25),
         "heating": heating, "weekend": (weekday >= 5).astype(float),
         "weekday": weekday.astype(float),
         "issue_hod": np.broadcast_to(((hours_at_issue + 8) % 24)[:, None], mid.shape) * 1.0}
    return {k: np.repeat(v[:, None, :], n_cities, axis=1) for k, v in f.items()}
