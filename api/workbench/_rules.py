"""The screening rules, each a function over one station's hourly arrays.

Every rule returns candidate findings as dicts ``{rule, i0, i1, score, why}`` with ``i0``,
``i1`` hour indices (``i1`` exclusive) into the grid; ``_screen`` adds times, evidence and
the plain-language reasons. Arrays hold NaN where the hour has no valid value.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ScreenConfig:
    params: tuple[str, ...] = ("pm25", "pm10")
    radius_km: float = 60.0
    max_neighbours: int = 8
    min_neighbours: int = 2
    history_days: int = 28          # the model is fitted on this much history before start
    departure_z: float = 4.0        # robust z of ratio (nearest) and of residual, both
    departure_hours: int = 4        # smoothed departure held this long (a 6 h window shows 4+)
    scale_floor: float = 0.1        # log units: no departure below ~10 % counts
    offset_z: float = 3.0           # 24-h median of the ratio's robust z, both signs
    offset_hours: int = 24          # ... held this long: an analyser reading low for a day
    near_neighbours: int = 3        # ... against the nearest ones' median too (same air mass)
    shift_hours: int = 72
    shift_z: float = 5.0
    flat_hours: int = 6
    flat_min_steps: float = 20      # a flat value at least 20 resolution steps up
    smooth_ratio: float = 0.15
    smooth_hours: int = 24
    drop_share: float = 0.4         # an hour of day at least 40 % below the station's usual
    drop_min_days: int = 7
    pm_tolerance: float = 5.0       # µg/m³, and 10 %: PM2.5 above PM10 by more is wrong
    pm_hours: int = 3
    episode_pm25: float = 115.0     # neighbourhood median: moderate pollution or worse
    episode_flag_runs: int = 2
    episode_rate_ratio: float = 3.0


RESOLUTION = {"co": 0.1}   # instrument steps; µg/m³ parameters report whole units


def offset(param: str) -> float:
    """Added before taking logs so clean-air noise does not read as a large ratio."""
    return 0.2 if param == "co" else 5.0


def runs(mask: np.ndarray, min_len: int = 1, bridge: int = 0) -> list[tuple[int, int]]:
    """``[i0, i1)`` runs of True at least ``min_len`` long; gaps of at most ``bridge`` False
    hours inside a run are bridged."""
    idx = np.flatnonzero(mask)
    if not len(idx):
        return []
    out, s, prev = [], idx[0], idx[0]
    for i in idx[1:]:
        if i - prev > bridge + 1:
            out.append((s, prev + 1))
            s = i
        prev = i
    out.append((s, prev + 1))
    return [(a, b) for a, b in out if b - a >= min_len]


def robust_scale(x: np.ndarray, floor: float) -> tuple[float, float]:
    x = x[np.isfinite(x)]
    if len(x) < 24:
        return float("nan"), floor
    med = float(np.median(x))
    return med, max(1.4826 * float(np.median(np.abs(x - med))), floor)


def fit_residual(y: np.ndarray, features: np.ndarray, fit: np.ndarray, floor: float
                 ) -> np.ndarray:
    """Robust z of ``y`` after regressing it on ``features`` over the ``fit`` hours (least
    squares, refitted twice without the points beyond 3 scales)."""
    X = np.column_stack([np.ones(len(y)), features])
    ok = fit & np.isfinite(y) & np.all(np.isfinite(X), axis=1)
    if ok.sum() < 48:
        return np.full(len(y), np.nan)
    use = ok.copy()
    for _ in range(3):
        beta, *_ = np.linalg.lstsq(X[use], y[use], rcond=None)
        res = y - X @ beta
        _, scale = robust_scale(res[use], floor)
        use = ok & (np.abs(res) <= 3 * scale)
        if use.sum() < 48:
            use = ok
    return res / scale


def _ratio_z(r: np.ndarray, fit: np.ndarray, cfg: ScreenConfig) -> tuple[np.ndarray, float]:
    med, scale = robust_scale(r[fit], cfg.scale_floor)
    return (r - med) / scale, med


def departure(r: np.ndarray, r_near: np.ndarray, z_res: np.ndarray, fit: np.ndarray,
              cfg: ScreenConfig) -> list[dict]:
    """The station departs from its neighbourhood: its log ratio to its nearest neighbours'
    median (``r_near``: the same air mass, a tight ratio) and its residual after regressing
    on the neighbourhood and wind both beyond ``departure_z`` robust scales, held for
    ``departure_hours`` (rolling 6 h median). ``r``, the ratio to the whole neighbourhood,
    is what the finding reports."""
    med, _ = robust_scale(r[fit], cfg.scale_floor)
    z_ratio, med_near = _ratio_z(r_near, fit & np.isfinite(r_near), cfg)
    if not np.isfinite(med) or not np.isfinite(med_near):
        return []
    agree = np.sign(z_ratio) == np.sign(z_res)
    s = np.where(agree, np.sign(z_ratio) * np.minimum(np.abs(z_ratio), np.abs(z_res)), 0.0)
    smooth = pd.Series(s).rolling(6, center=True, min_periods=3).median().to_numpy()
    out = []
    for i0, i1 in runs(np.abs(smooth) >= cfg.departure_z, cfg.departure_hours, bridge=2):
        seg = s[i0:i1]
        out.append({"rule": "departure", "i0": i0, "i1": i1,
                    "score": float(np.nanmax(np.abs(seg))),
                    "why": {"ratio": float(np.exp(np.nanmedian(r[i0:i1]))),
                            "usual_ratio": float(np.exp(med)),
                            "direction": "low" if np.nanmedian(seg) < 0 else "high"}})
    return out


def sustained_offset(r: np.ndarray, r_near: np.ndarray, fit: np.ndarray, cfg: ScreenConfig
                     ) -> list[dict]:
    """The station's log ratio to its nearest neighbours' median (``r_near``) off its usual by
    ``offset_z`` robust scales, the ratio to the whole neighbourhood (``r``) at least one
    scale off the same way, in the rolling ``offset_hours`` median held half as long: an offset
    for a day or more (an analyser recalibrated during an episode), which the regression on
    the neighbours' level can absorb and so ``departure`` misses. The nearest neighbours share
    the station's air mass: a neighbourhood spanning two cities whose air diverges moves the
    wide ratio, not the near one."""
    z, med = _ratio_z(r, fit, cfg)
    z_near, _ = _ratio_z(r_near, fit & np.isfinite(r_near), cfg)
    if not np.isfinite(med) or not np.isfinite(z_near).any():
        return []
    agree = (np.sign(z) == np.sign(z_near)) & (np.abs(z) >= 1.0)
    both = np.where(agree, z_near, 0.0)
    L = cfg.offset_hours
    smooth = pd.Series(both).rolling(L, center=True, min_periods=L * 3 // 4).median().to_numpy()
    out = []
    for i0, i1 in runs(np.abs(smooth) >= cfg.offset_z, L // 2, bridge=2):
        seg = smooth[i0:i1]
        out.append({"rule": "sustained_offset", "i0": i0, "i1": i1,
                    "score": float(np.nanmax(np.abs(seg))),
                    "why": {"ratio": float(np.exp(np.nanmedian(r[i0:i1]))),
                            "usual_ratio": float(np.exp(med)),
                            "direction": "low" if np.nanmedian(seg) < 0 else "high"}})
    return out


def level_shift(z_res: np.ndarray, cfg: ScreenConfig) -> list[dict]:
    """A sudden, lasting step in the residual: medians of the ``shift_hours`` before and
    after an hour differ by ``shift_z`` robust scales (the peak of each such stretch)."""
    L = cfg.shift_hours
    s = pd.Series(z_res)
    before = s.rolling(L, min_periods=L * 2 // 3).median().shift(1).to_numpy()
    after = s[::-1].rolling(L, min_periods=L * 2 // 3).median()[::-1].to_numpy()
    step = after - before
    out = []
    for i0, i1 in runs(np.abs(step) >= cfg.shift_z, 1, bridge=3):
        seg = np.abs(step[i0:i1])
        top = np.flatnonzero(seg >= 0.95 * np.nanmax(seg))   # medians give a plateau:
        k = _refine(z_res, i0 + int(top[len(top) // 2]), L // 2)
        out.append({"rule": "level_shift", "i0": k, "i1": min(len(z_res), k + L),
                    "score": float(abs(step[k])),
                    "why": {"step_scales": float(step[k]),
                            "direction": "down" if step[k] < 0 else "up"}})
    return out


def _refine(z: np.ndarray, k: int, reach: int, w: int = 24) -> int:
    """The hour near ``k`` that best splits ``z`` into two levels (24 h medians either side)."""
    best, at = -1.0, k
    for j in range(max(w, k - reach), min(len(z) - w, k + reach) + 1):
        a, b = z[j - w:j], z[j:j + w]
        if np.isfinite(a).sum() < w // 2 or np.isfinite(b).sum() < w // 2:
            continue
        d = abs(np.nanmedian(b) - np.nanmedian(a))
        if d > best:
            best, at = d, j
    return at


def flat_line(x: np.ndarray, nbr: np.ndarray, param: str, cfg: ScreenConfig) -> list[dict]:
    """``flat_hours`` or more identical valid hours at a level well above the instrument's
    resolution while the neighbours moved."""
    res = RESOLUTION.get(param, 1.0)
    same = np.zeros(len(x), bool)
    same[1:] = np.abs(np.diff(x)) <= res * 1e-3
    out = []
    for i0, i1 in runs(same, cfg.flat_hours - 1):
        a = i0 - 1
        level, moved = x[a], np.nanmax(nbr[a:i1]) - np.nanmin(nbr[a:i1])
        if level >= cfg.flat_min_steps * res and moved >= 5 * res:
            out.append({"rule": "flat_line", "i0": a, "i1": i1,
                        "score": (i1 - a) / cfg.flat_hours,
                        "why": {"value": float(level), "hours": int(i1 - a),
                                "neighbours_range": float(moved)}})
    return out


def wiggle(x: np.ndarray) -> np.ndarray:
    """|second difference| at each hour (NaN at the edges)."""
    out = np.full(len(x), np.nan)
    out[1:-1] = np.abs(x[2:] - 2 * x[1:-1] + x[:-2])
    return out


def too_smooth(x: np.ndarray, nbr_rough: np.ndarray, param: str, cfg: ScreenConfig
               ) -> list[dict]:
    """Hour-to-hour wiggle (second differences: a diurnal cycle is not wiggle) far smaller
    than the neighbours' over ``smooth_hours`` (values replaced by a smooth curve)."""
    res = RESOLUTION.get(param, 1.0)
    d = wiggle(x)
    mine = pd.Series(d).rolling(cfg.smooth_hours, min_periods=cfg.smooth_hours * 3 // 4) \
        .median().to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = mine / nbr_rough
    mask = (ratio < cfg.smooth_ratio) & (nbr_rough >= 2 * res)
    out = []
    for i0, i1 in runs(mask, cfg.smooth_hours // 2):
        a = max(0, i0 - cfg.smooth_hours + 1)
        out.append({"rule": "too_smooth", "i0": a, "i1": i1,
                    "score": float(1 / max(np.nanmin(ratio[i0:i1]), 1e-3)),
                    "why": {"roughness_ratio": float(np.nanmedian(ratio[i0:i1]))}})
    return out


def hour_drop(z_res: np.ndarray, r: np.ndarray, hour_of_day: np.ndarray, day: np.ndarray,
              in_range: np.ndarray, cfg: ScreenConfig) -> list[dict]:
    """Particular hours of the day at which the station, against its neighbours and wind,
    reads ``drop_share`` lower than its usual ratio on most days of the range."""
    days = np.unique(day[in_range & np.isfinite(r)])
    if len(days) < cfg.drop_min_days:
        return []
    base = np.nanmedian(r[in_range])
    by_hour = np.full(24, np.nan)
    share_days = np.zeros(24)
    for h in range(24):
        sel = in_range & (hour_of_day == h) & np.isfinite(r)
        if sel.sum() >= cfg.drop_min_days:
            by_hour[h] = np.nanmedian(r[sel] - base)
            share_days[h] = np.mean(z_res[sel] <= -2)
    low = (by_hour <= np.log(1 - cfg.drop_share)) & (share_days >= 0.5)
    if not low.any():
        return []
    hours = [int(h) for h in np.flatnonzero(low)]
    hit = in_range & np.isin(hour_of_day, hours) & (z_res <= -2)
    idx = np.flatnonzero(hit)
    return [{"rule": "hour_drop", "i0": int(idx[0]), "i1": int(idx[-1]) + 1,
             "score": float(1 - np.exp(np.nanmin(by_hour[low]))),
             "why": {"hours": hours, "days": int(len(days)),
                     "drop": [round(float(1 - np.exp(by_hour[h])), 3) for h in hours],
                     "share_of_days": [round(float(share_days[h]), 3) for h in hours],
                     "ratio_by_hour": [None if not np.isfinite(v) else round(float(np.exp(v)), 3)
                                       for v in by_hour]}}]


def pm25_above_pm10(pm25: np.ndarray, pm10: np.ndarray, cfg: ScreenConfig) -> list[dict]:
    """PM2.5 above PM10 (PM2.5 is part of PM10) beyond the instruments' tolerance."""
    with np.errstate(invalid="ignore"):
        bad = pm25 - pm10 > np.maximum(cfg.pm_tolerance, 0.1 * pm10)
    out = []
    for i0, i1 in runs(bad, cfg.pm_hours, bridge=1):
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = float(np.nanmax(pm25[i0:i1] / pm10[i0:i1]))
        out.append({"rule": "pm25_above_pm10", "i0": i0, "i1": i1, "score": ratio,
                    "why": {"max_ratio": ratio, "hours": int(np.nansum(bad[i0:i1]))}})
    return out


def flags_in_episodes(flags: np.ndarray, nbr_pm25: np.ndarray, in_range: np.ndarray,
                      cfg: ScreenConfig) -> list[dict]:
    """Calibration or maintenance (C, M) repeatedly started while the neighbourhood was in an
    episode, far more often than outside episodes."""
    episode = np.nan_to_num(nbr_pm25, nan=0.0) >= cfg.episode_pm25
    cm = np.isin(flags, ["C", "M"]) & in_range
    starts = [a for a, _ in runs(cm, 1)]
    inside = [a for a in starts if episode[a]]
    ep_days = max((episode & in_range).sum() / 24, 1e-9)
    out_days = max((~episode & in_range).sum() / 24, 1e-9)
    if len(inside) < cfg.episode_flag_runs or (episode & in_range).sum() < 24:
        return []
    rate_in = len(inside) / ep_days
    rate_out = (len(starts) - len(inside) + 0.5) / out_days   # +0.5: no run outside is not 0
    if rate_in < cfg.episode_rate_ratio * rate_out:
        return []
    last = runs(cm, 1)[[a for a, _ in runs(cm, 1)].index(inside[-1])][1]
    return [{"rule": "flags_in_episodes", "i0": inside[0], "i1": int(last),
             "score": float(rate_in / rate_out),
             "why": {"runs_in_episodes": len(inside), "runs_outside": len(starts) - len(inside),
                     "episode_days": round(float(ep_days), 1),
                     "other_days": round(float(out_days), 1)}}]
