"""Air-quality model: quantile gradient boosting of lead-day window means per pollutant.

One pipeline per (pollutant, quantile) and variant (with / without the weather forecast),
lead day as a feature. The target is log1p(window mean) - log1p(last 24 h mean), so the
models predict change from persistence; quantiles map back exactly (monotone transform).
Hourly values are the window quantile times the city's diurnal profile (mean 1 over any 24
consecutive hours), so 24 h means of the hourly forecast reproduce the window forecast.
Persistence (last 24 h mean, with the spread of its past errors) and climatology (city and
month quantiles) are kept alongside as baselines.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from ._aqi import aqi, edition_of, prob_aqi_above, window_indicators
from ._features import (LEAD_DAYS, FeatureBuilder, calendar, feature_names, met_features)
from ._panel import POLLUTANTS, Panel

log = logging.getLogger(__name__)
QUANTILES = (0.1, 0.5, 0.9)
HGB = dict(max_iter=80, learning_rate=0.12, max_leaf_nodes=15, min_samples_leaf=40,
           l2_regularization=1.0, early_stopping=False, random_state=0)


@dataclass
class DayForecast:
    """Lead-day window forecasts for N issues x K cities x D lead days.

    ``q[p]``: (3, N, K, D) quantiles (10/50/90 %) of window means; ``q["o3_8h"]`` too.
    ``persistence[p]``: (N, K) last 24 h indicator; ``variant``: (N,) "met" / "nomet"."""

    issue_pos: np.ndarray
    issue_hours: np.ndarray
    cities: list[str]
    q: dict[str, np.ndarray]
    persistence: dict[str, np.ndarray]
    variant: np.ndarray

    def editions(self) -> np.ndarray:
        starts = self.issue_hours[:, None] + 24 * np.arange(LEAD_DAYS)[None, :]
        return edition_of(starts.ravel() * 3600 * 10**9).reshape(starts.shape)[:, None, :]

    def aqi(self, qi: int = 1) -> np.ndarray:
        """(N, K, D) AQI of the window at quantile index ``qi`` (errors co-monotone)."""
        return aqi({k: self.q[k][qi] for k in ("pm25", "pm10", "so2", "no2", "co", "o3_8h")},
                   self.editions())

    def p_aqi_above(self, level: float = 200.0) -> np.ndarray:
        quant = {k: tuple(self.q[k]) for k in ("pm25", "pm10", "so2", "no2", "co", "o3_8h")}
        return prob_aqi_above(quant, self.editions(), level)

    def persistence_aqi(self) -> np.ndarray:
        """(N, K) AQI of the last 24 h before each issue."""
        starts = (self.issue_hours - 24) * 3600 * 10**9
        return aqi(self.persistence, edition_of(starts)[:, None])


@dataclass
class AirModel:
    cities: list[str]
    features: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    models: dict = field(default_factory=dict)  # (variant, pollutant, q) -> estimator
    profiles: dict[str, np.ndarray] = field(default_factory=dict)  # p -> (K, 24) by CST hour
    spread: dict[str, np.ndarray] = field(default_factory=dict)  # p -> (D, 3) log ratios
    climatology: dict[str, np.ndarray] = field(default_factory=dict)  # p -> (K, 12, 3)
    calibration: dict[str, np.ndarray] = field(default_factory=dict)  # p -> (D, 2) lo/hi
    o3_8h_factor: np.ndarray | None = None  # (K, 24): max 8 h profile mean by window start
    train_s: float = 0.0

    # -- design matrices ----------------------------------------------------------------
    def design(self, fb: FeatureBuilder, i0: np.ndarray, met: list | None):
        n, k = len(i0), len(self.cities)
        base = fb.base(i0)
        cal = calendar(fb.hours[0] + i0, k)
        has_met = np.array([m is not None for m in (met or [None] * n)])
        metf = met_features(met or [None] * n, base, k)
        cols = {key: np.repeat(v[:, :, None], LEAD_DAYS, axis=2) for key, v in base.items()}
        cols.update(cal)
        cols.update(metf)
        cols["city"] = np.broadcast_to(np.arange(k)[None, :, None], (n, k, LEAD_DAYS)) * 1.0
        own = {p: fb.own(p, i0) for p in POLLUTANTS if p != "pm25"}
        own["pm25"] = {"own_24": base["pm25_24"]}
        return cols, own, has_met

    @staticmethod
    def _matrix(cols, own_p, names) -> np.ndarray:
        def col(name):
            if name.startswith("own_"):
                return np.repeat(own_p[name][:, :, None], LEAD_DAYS, axis=2)
            return cols[name]
        return np.stack([np.asarray(col(c), dtype=np.float32).ravel() for c in names], axis=1)

    # -- training -----------------------------------------------------------------------
    def fit(self, panel: Panel, fb: FeatureBuilder, i0: np.ndarray, met: list | None) -> "AirModel":
        """Train on issues ``i0`` (single-threaded: OpenMP spin-waits badly on a busy box)."""
        t = time.perf_counter()
        with threadpool_limits(limits=1, user_api="openmp"):
            self._calibrate(fb, i0, met)
            self._fit(fb, i0, met)
        self._fit_profiles(panel)
        self.train_s = time.perf_counter() - t
        log.info("air model trained: issues=%s variants=%s seconds=%.1f", len(i0),
                 list(self.features), self.train_s)
        return self

    def _calibrate(self, fb: FeatureBuilder, i0: np.ndarray, met: list | None) -> None:
        """Quantile spread scaling from real errors: fit on the first 80 % of the issues,
        and per pollutant and lead day scale (q90 - q50) and (q50 - q10) so that 10 % of the
        last 20 % fall above q90 and 10 % below q10 (factors 0.5..3)."""
        cut = int(len(i0) * 0.8)
        if cut < 40 or len(i0) - cut < 20:
            return
        early = AirModel(self.cities)
        early._fit(fb, i0[:cut], None if met is None else met[:cut])
        early.o3_8h_factor = np.ones((len(self.cities), 24))
        fc = early._predict(fb, i0[cut:], None if met is None else met[cut:], scale=False)
        for p in POLLUTANTS:
            y = np.stack([fb.target(p, i0[cut:], d) for d in range(1, LEAD_DAYS + 1)], axis=2)
            lo, mid, hi = (np.log1p(fc.q[p][j]) for j in range(3))
            ly = np.log1p(np.maximum(y, 0.0))
            fac = np.ones((LEAD_DAYS, 2))
            for d in range(LEAD_DAYS):
                with np.errstate(invalid="ignore", divide="ignore"):
                    up = (ly - mid)[..., d] / np.maximum((hi - mid)[..., d], 1e-3)
                    dn = (mid - ly)[..., d] / np.maximum((mid - lo)[..., d], 1e-3)
                up, dn = up[np.isfinite(up)], dn[np.isfinite(dn)]
                if len(up) >= 20:
                    fac[d] = np.clip([np.quantile(dn, 0.9), np.quantile(up, 0.9)], 0.5, 3.0)
            self.calibration[p] = fac

    def _fit(self, fb: FeatureBuilder, i0: np.ndarray, met: list | None) -> None:
        cols, own, has_met = self.design(fb, i0, met)
        variants = ["nomet"] + (["met"] if has_met.any() else [])
        for p in POLLUTANTS:
            y = np.stack([np.log1p(np.maximum(fb.target(p, i0, d), 0)) for d in
                          range(1, LEAD_DAYS + 1)], axis=2) - own[p]["own_24"][:, :, None]
            self.spread[p] = np.nanquantile(y.transpose(2, 0, 1).reshape(LEAD_DAYS, -1),
                                            QUANTILES, axis=1).T
            for v in variants:
                names = feature_names(p, v == "met")
                self.features.setdefault(v, {})[p] = names
                X = self._matrix(cols, own[p], names)
                rows = np.isfinite(y.ravel()) & np.isfinite(own[p]["own_24"][:, :, None]
                                                           .repeat(LEAD_DAYS, 2).ravel())
                if v == "met":
                    rows &= np.repeat(has_met, len(self.cities) * LEAD_DAYS)
                # a feature the history never varies (no station spread in a one-station
                # city, no weather variable in a feed) is dropped, never fitted on NaN
                keep = [j for j in range(X.shape[1]) if j == 0 or
                        len(np.unique(X[rows, j][np.isfinite(X[rows, j])])) >= 2]
                names = [names[j] for j in keep]
                self.features[v][p] = names
                X = X[:, keep]
                for q in QUANTILES:
                    m = HistGradientBoostingRegressor(loss="quantile", quantile=q,
                                                      categorical_features=[0], **HGB)
                    self.models[(v, p, q)] = m.fit(X[rows], y.ravel()[rows])

    def _fit_profiles(self, panel: Panel) -> None:
        hod = panel.local_hour()
        day = (panel.index.as_unit("s").asi8 // 3600 + 8) // 24
        month = panel.index.month.to_numpy() - 1
        for p in POLLUTANTS:
            arr = panel.data[p]
            _, inv = np.unique(day, return_inverse=True)
            sums = np.zeros((inv.max() + 1, arr.shape[1]))
            cnts = np.zeros_like(sums)
            np.add.at(sums, inv, np.nan_to_num(arr))
            np.add.at(cnts, inv, np.isfinite(arr))
            with np.errstate(invalid="ignore", divide="ignore"):
                dmean = np.where(cnts >= 20, sums / cnts, np.nan)
                ratio = arr / dmean[inv]
            prof = np.stack([np.nanmean(ratio[hod == h], axis=0) for h in range(24)], axis=1)
            prof = np.where(np.isfinite(prof), prof, 1.0)
            self.profiles[p] = prof / prof.mean(axis=1, keepdims=True)
            dm = dmean[inv]  # daily mean repeated per hour; quantiles by month
            clim = np.full((arr.shape[1], 12, 3), np.nan)
            for mth in range(12):
                sel = month == mth
                if np.isfinite(dm[sel]).any():
                    clim[:, mth] = np.nanquantile(dm[sel], QUANTILES, axis=0).T
            fill = np.nanquantile(dm, QUANTILES, axis=0).T[:, None, :]
            self.climatology[p] = np.where(np.isfinite(clim), clim, fill)
        o3 = self.profiles["o3"]
        fac = np.zeros((o3.shape[0], 24))
        for h0 in range(24):
            m8 = [o3[:, (h0 + k + np.arange(8)) % 24].mean(axis=1) for k in range(17)]
            fac[:, h0] = np.max(m8, axis=0)
        self.o3_8h_factor = fac

    # -- prediction ---------------------------------------------------------------------
    def predict(self, fb: FeatureBuilder, i0: np.ndarray, met: list | None) -> DayForecast:
        with threadpool_limits(limits=1, user_api="openmp"):
            return self._predict(fb, i0, met)

    def _predict(self, fb: FeatureBuilder, i0: np.ndarray, met: list | None, *,
                 scale: bool = True) -> DayForecast:
        cols, own, has_met = self.design(fb, i0, met)
        n, k = len(i0), len(self.cities)
        variant = np.where(has_met & ("met" in self.features), "met", "nomet")
        q = {}
        for p in POLLUTANTS:
            base = np.repeat(own[p]["own_24"][:, :, None], LEAD_DAYS, 2)
            out = np.full((3, n, k, LEAD_DAYS), np.nan)
            for v in ("nomet", "met"):
                sel = variant == v
                if not sel.any() or v not in self.features:
                    continue
                X = self._matrix({c: a[sel] for c, a in cols.items()},
                                 {c: a[sel] for c, a in own[p].items()}, self.features[v][p])
                for j, qq in enumerate(QUANTILES):
                    out[j, sel] = self.models[(v, p, qq)].predict(X).reshape(-1, k, LEAD_DAYS)
            out = np.sort(out, axis=0)
            fac = getattr(self, "calibration", {}).get(p) if scale else None
            if fac is not None:   # calibrated spread (older saved models have none)
                out[0] = out[1] - (out[1] - out[0]) * fac[None, None, :, 0]
                out[2] = out[1] + (out[2] - out[1]) * fac[None, None, :, 1]
            q[p] = np.maximum(np.expm1(out + base), 0.0)
        return self._finish(fb, i0, q, variant)

    def _finish(self, fb, i0, q, variant) -> DayForecast:
        hours = fb.hours[0] + i0
        h0 = (hours[:, None] + 24 * np.arange(LEAD_DAYS)[None, :] + 8) % 24  # (N, D)
        fac = self.o3_8h_factor[np.arange(len(self.cities))[None, :, None], h0[:, None, :]]
        q["o3_8h"] = q["o3"] * fac[None]
        return DayForecast(i0, hours, self.cities, q, persistence_now(fb, i0), variant)

    def persistence(self, fb: FeatureBuilder, i0: np.ndarray) -> DayForecast:
        """The persistence baseline: last 24 h mean for every lead day, past-error spread."""
        return persistence_forecast(fb, i0, self.cities, self.spread, self.o3_8h_factor)

    def climatology_forecast(self, fb: FeatureBuilder, i0: np.ndarray) -> DayForecast:
        month = np.asarray(fb.p.index[np.clip(i0, 0, len(fb.p.index) - 1)].month) - 1
        q = {p: np.repeat(self.climatology[p][:, month].transpose(2, 1, 0)[..., None],
                          LEAD_DAYS, axis=3) for p in POLLUTANTS}
        return self._finish(fb, i0, q, np.full(len(i0), "climatology"))


def persistence_now(fb: FeatureBuilder, i0: np.ndarray) -> dict[str, np.ndarray]:
    """(N, K) indicators of the 24 h before each issue (o3_8h = max 8 h mean)."""
    return window_indicators(fb.p.data, np.asarray(i0) - 24)


def default_spread() -> dict[str, np.ndarray]:
    d = np.sqrt(np.arange(1, LEAD_DAYS + 1))[:, None]
    return {p: d * np.array([-1.28, 0.0, 1.28]) * 0.35 for p in POLLUTANTS}


def persistence_forecast(fb, i0, cities, spread=None, o3_8h_factor=None) -> DayForecast:
    spread = spread or default_spread()
    now = persistence_now(fb, i0)
    q = {}
    for p in POLLUTANTS:
        r = spread[p].copy()
        r[:, 1] = 0.0  # persistence itself is the median
        q[p] = now[p][None, :, :, None] * np.exp(r.T[:, None, None, :])
    r = spread["o3"].copy()
    r[:, 1] = 0.0
    q["o3_8h"] = now["o3_8h"][None, :, :, None] * np.exp(r.T[:, None, None, :])
    return DayForecast(i0, fb.hours[0] + i0, list(cities), q, now,
                       np.full(len(i0), "persistence"))
