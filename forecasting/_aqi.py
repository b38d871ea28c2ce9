"""Daily/rolling AQI of (forecast) concentration windows, vectorised, and P(AQI > level).

Uses the AQI engine's breakpoint editions (``core.aqi.EDITIONS``, chosen by window start).
Above the top breakpoint an IAQI is capped at 500 (forecasts never need the O3 1 h
substitute). A window with a missing indicator has no AQI (NaN), never a low one.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtr

from core.aqi import EDITIONS

#: forecast/daily indicator -> breakpoint table
TABLES = {"pm25": "pm25_24h", "pm10": "pm10_24h", "so2": "so2_24h", "no2": "no2_24h",
          "co": "co_24h", "o3_8h": "o3_8h"}
_Z90 = 1.2815515655446004
_FROM = np.array([np.iinfo(np.int64).min if e.valid_from is None
                  else pd.Timestamp(e.valid_from).value for e in EDITIONS])



def _nanmean(a: np.ndarray) -> np.ndarray:
    """Mean over axis 1 ignoring NaN; all-NaN rows give NaN. No warnings machinery: the
    warning filters are process-wide and not thread-safe to toggle."""
    ok = ~np.isnan(a)
    n = ok.sum(axis=1)
    total = np.where(ok, a, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def edition_of(ts) -> np.ndarray:
    """Edition positions for window starts (anything pd.DatetimeIndex accepts)."""
    ns = pd.DatetimeIndex(np.atleast_1d(ts)).as_unit("ns").asi8
    return np.searchsorted(_FROM, ns, side="right") - 1


def _interp(c: np.ndarray, bp: np.ndarray, iq: np.ndarray) -> np.ndarray:
    seg = np.clip(np.searchsorted(bp, c, side="right") - 1, 0, len(bp) - 2)
    x = iq[seg] + (iq[seg + 1] - iq[seg]) * (c - bp[seg]) / (bp[seg + 1] - bp[seg])
    x = np.ceil(np.round(x, 9))
    return np.where(c > bp[-1], 500.0, np.where(c < 0, np.nan, x))


def iaqi(ind: str, conc: np.ndarray, ed: np.ndarray) -> np.ndarray:
    """IAQI of daily indicator ``ind`` for concentrations ``conc`` (editions ``ed``, broadcast)."""
    conc = np.asarray(conc, dtype=float)
    ed = np.broadcast_to(ed, conc.shape)
    out = np.full(conc.shape, np.nan)
    for e in np.unique(ed):
        tab = EDITIONS[e].tables[TABLES[ind]]
        m = ed == e
        out[m] = _interp(conc[m], tab.bp, tab.iaqi)
    return out


def aqi(conc: dict[str, np.ndarray], ed: np.ndarray) -> np.ndarray:
    """AQI = max IAQI over the six daily indicators; NaN if any is missing."""
    stack = np.stack([iaqi(i, conc[i], ed) for i in TABLES])
    out = stack.max(axis=0)
    return np.where(np.isnan(stack).any(axis=0), np.nan, out)


def breakpoint_at(ind: str, level: float, ed: int) -> float:
    """Concentration of ``ind`` at IAQI ``level`` (IAQI > level iff conc > this)."""
    tab = EDITIONS[ed].tables[TABLES[ind]]
    return float(np.interp(level, tab.iaqi, tab.bp))


def prob_above(q10, q50, q90, threshold) -> np.ndarray:
    """P(X > threshold) for X with the given 10/50/90 % quantiles (two-piece log-normal)."""
    q10, q50, q90, thr = (np.maximum(np.asarray(a, dtype=float), 1e-6)
                          for a in (q10, q50, q90, threshold))
    hi = np.maximum(np.log(q90 / q50), 1e-3) / _Z90
    lo = np.maximum(np.log(q50 / q10), 1e-3) / _Z90
    z = np.log(thr / q50)
    return 1.0 - ndtr(np.where(z > 0, z / hi, z / lo))


def prob_aqi_above(quant: dict[str, tuple], ed: np.ndarray, level: float = 200.0
                   ) -> np.ndarray:
    """P(AQI > level) = max over indicators of P(conc > breakpoint) (errors co-monotone)."""
    probs = []
    for ind, (q10, q50, q90) in quant.items():
        thr = np.vectorize(lambda e: breakpoint_at(ind, level, int(e)))(
            np.broadcast_to(ed, np.shape(q50)))
        probs.append(prob_above(q10, q50, q90, thr))
    return np.max(probs, axis=0)


def window_indicators(hourly: dict[str, np.ndarray], starts: np.ndarray,
                      min_hours: int = 20) -> dict[str, np.ndarray]:
    """24 h means (O3 too) and the max 8 h O3 mean for windows [s, s+24) of hourly (T, K) arrays.

    O3 8 h means start at s..s+16 (>= 6 valid hours each); the max needs >= 14 of them."""
    out = {}
    idx = starts[:, None] + np.arange(24)[None, :]
    valid = (idx >= 0) & (idx < len(next(iter(hourly.values()))))
    idx = np.clip(idx, 0, None)
    for p in ("pm25", "pm10", "so2", "no2", "co", "o3"):
        v = np.where(valid[..., None], _take(hourly[p], idx), np.nan)
        n = np.isfinite(v).sum(axis=1)
        with np.errstate(invalid="ignore"):
            out[p] = np.where(n >= min_hours, _nanmean(v), np.nan)
    o3 = np.where(valid[..., None], _take(hourly["o3"], idx), np.nan)
    m8 = []
    for k in range(17):
        w = o3[:, k:k + 8]
        n = np.isfinite(w).sum(axis=1)
        with np.errstate(invalid="ignore"):
            m8.append(np.where(n >= 6, _nanmean(w), np.nan))
    m8 = np.stack(m8)
    with np.errstate(invalid="ignore"):
        top = np.nanmax(np.where(np.isfinite(m8), m8, -np.inf), axis=0)
    out["o3_8h"] = np.where(np.isfinite(m8).sum(axis=0) >= 14, top, np.nan)
    return out


def _take(arr: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """arr (T, K), idx (S, 24) -> (S, 24, K), rows past the end NaN."""
    pad = np.vstack([arr, np.full((25, arr.shape[1]), np.nan)])
    return pad[np.minimum(idx, len(pad) - 1)]
