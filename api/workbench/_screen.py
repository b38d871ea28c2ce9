"""Screening for faults and tampering: each station against its neighbourhood and the wind.

``screen_hourly`` works on hourly frames (``_hourly.hourly``); ``screen`` reads them from the
store. The model of each station (ratio to the neighbourhood median; regression on the
neighbours and wind) is fitted on ``history_days`` before the range plus the range itself.
"""
from __future__ import annotations

import warnings
from datetime import datetime, timedelta
from typing import Sequence

import numpy as np
import pandas as pd

from core.catalogue import Catalogue
from core.store import Store
from core.timeutil import CST

from . import _rules as R
from ._hourly import hourly, read_raw
from ._neighbours import neighbours
from ._reasons import reason

WIND = ("wind_speed", "wind_dir")
EVIDENCE_PAD = 12
EVIDENCE_MAX = 500
LIMITS = [{
    "rule": "edited_after_the_fact", "status": "not_available",
    "en": "The store cannot tell: it keeps one value per station, period and time and a "
          "rewrite replaces it (upsert), recording neither when a value was written nor what "
          "it replaced. Needed: an append-only revision log (value, flag, written_at, the "
          "logger's own send time and the source of each write) kept by the ingest, or "
          "InfluxDB writes that keep a write-time field and never overwrite.",
    "zh": "无法判断：存储对每个站点、周期和时间只保存一个值，重写时直接覆盖，既不记录写入时间，"
          "也不保留被替换的值。需要由入库服务维护只追加的修订日志（值、标记、写入时间、数采仪发送"
          "时间及每次写入的来源）。"}]


def screen(store: Store, cat: Catalogue, stations: Sequence[str], start: datetime,
           end: datetime, cfg: R.ScreenConfig = R.ScreenConfig()) -> dict:
    """Findings for ``stations`` over ``[start, end)``, read from the store."""
    air = [s.id for s in cat.stations.values() if s.kind == "air"]
    wanted = set(stations)
    for s in stations:
        wanted.update(neighbours(cat, s, cfg.radius_km, cfg.max_neighbours, set(air)))
    params = list(dict.fromkeys([*cfg.params, *WIND, "pm25", "pm10"]))
    t_fit = start - timedelta(days=cfg.history_days)
    raw = read_raw(store, "air", sorted(wanted), params, t_fit, end)
    return screen_hourly(hourly(raw, params), cat, stations, start, end, cfg)


def _matrix(h: pd.DataFrame, grid: pd.DatetimeIndex, col: str, valid: bool = True
            ) -> dict[str, np.ndarray]:
    out = {}
    if col not in h:
        return out
    for sid, g in h.groupby("station", sort=False):
        s = g.set_index("time")
        s = s[~s.index.duplicated(keep="last")]
        v = s[col]
        if valid:
            v = v.where(s[f"{col}_valid"].astype(bool))
        out[sid] = v.reindex(grid).to_numpy(dtype=float if valid else object)
    return out


def screen_hourly(h: pd.DataFrame, cat: Catalogue, stations: Sequence[str], start: datetime,
                  end: datetime, cfg: R.ScreenConfig = R.ScreenConfig()) -> dict:
    t_fit = start - timedelta(days=cfg.history_days)
    grid = pd.date_range(pd.Timestamp(t_fit).floor("h"), pd.Timestamp(end).ceil("h"),
                         freq="h", inclusive="left")
    in_range = np.asarray((grid >= pd.Timestamp(start)) & (grid < pd.Timestamp(end)))
    local = grid.tz_convert(CST)
    ctx = {"grid": grid, "in_range": in_range, "hod": np.asarray(local.hour),
           "day": np.asarray(local.normalize().asi8)}
    params = list(dict.fromkeys([*cfg.params, "pm25", "pm10"]))
    vals = {p: _matrix(h, grid, p) for p in [*params, *WIND]}
    flags = {p: _matrix(h, grid, f"{p}_flag", valid=False) for p in cfg.params}
    present = set(h["station"].unique()) if len(h) else set()
    findings, notes, hoods = [], [], {}
    for sid in stations:
        nb = [n for n in neighbours(cat, sid, cfg.radius_km, cfg.max_neighbours) if n in present]
        hoods[sid] = nb
        if sid not in present:
            notes.append({"station": sid, "note": "no data in the range"})
            continue
        if len(nb) < cfg.min_neighbours:
            notes.append({"station": sid, "note": f"{len(nb)} neighbours within "
                          f"{cfg.radius_km:g} km: neighbourhood rules skipped"})
        for p in cfg.params:
            findings += _station(sid, p, nb, vals, flags, ctx, cfg)
        if "pm25" in vals and "pm10" in vals and sid in vals["pm25"] and sid in vals["pm10"]:
            for f in R.pm25_above_pm10(vals["pm25"][sid], vals["pm10"][sid], cfg):
                findings.append(_finish(f, sid, "pm25", nb, vals, ctx))
    findings = [f for f in findings if f is not None]
    findings.sort(key=lambda f: (f["station"], f["start"], f["rule"]))
    return {"start": pd.Timestamp(start).tz_convert(CST).isoformat(),
            "end": pd.Timestamp(end).tz_convert(CST).isoformat(),
            "config": {k: v for k, v in cfg.__dict__.items()},
            "neighbours": hoods, "notes": notes, "limits": LIMITS, "findings": findings}


def _station(sid, p, nb, vals, flags, ctx, cfg) -> list[dict]:
    x = vals[p].get(sid)
    if x is None:
        return []
    in_range = ctx["in_range"]
    out = []
    if len(nb) >= cfg.min_neighbours:
        m = _nbr_median(vals[p], nb)
        c = R.offset(p)
        r = np.log(x + c) - np.log(m + c)
        z_res = R.fit_residual(np.log(x + c), _features(np.log(m + c), vals, sid, nb),
                               np.isfinite(r), cfg.scale_floor)
        m_near = _nbr_median(vals[p], nb[:cfg.near_neighbours])
        r_near = np.log(x + c) - np.log(m_near + c)
        out += R.departure(r, r_near, z_res, np.isfinite(r), cfg)
        out += R.sustained_offset(r, r_near, np.isfinite(r), cfg)
        out += R.level_shift(z_res, cfg)
        out += R.flat_line(x, m, p, cfg)
        out += R.too_smooth(x, _nbr_roughness(vals[p], nb, cfg), p, cfg)
        out += R.hour_drop(z_res, r, ctx["hod"], ctx["day"], in_range, cfg)
        nbr25 = _nbr_median(vals["pm25"], nb) if "pm25" in vals else m
        if p in flags and sid in flags[p]:
            out += R.flags_in_episodes(flags[p][sid], nbr25, in_range, cfg)
    return [_finish(f, sid, p, nb, vals, ctx) for f in out]


def _nbr_median(mat: dict, nb: list[str]) -> np.ndarray:
    stack = np.vstack([mat[n] for n in nb if n in mat])
    enough = np.isfinite(stack).sum(axis=0) >= 2
    with warnings.catch_warnings():   # all-NaN hours: no median, said by ``enough``
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(stack, axis=0)
    return np.where(enough, med, np.nan)


def _nbr_roughness(mat: dict, nb: list[str], cfg) -> np.ndarray:
    rough = []
    for n in nb:
        d = R.wiggle(mat[n])
        rough.append(pd.Series(d).rolling(cfg.smooth_hours, min_periods=cfg.smooth_hours * 3 // 4)
                     .median().to_numpy())
    return _nbr_median(dict(enumerate(rough)), list(range(len(rough))))


def _features(log_m: np.ndarray, vals: dict, sid: str, nb: list[str]) -> np.ndarray:
    """Neighbours' level and the neighbourhood's wind (speed, and its east/north components:
    a station upwind or downwind of a source departs by direction)."""
    ws = _nbr_median(vals["wind_speed"], [sid, *nb]) if vals.get("wind_speed") else None
    wd = _nbr_median(vals["wind_dir"], [sid, *nb]) if vals.get("wind_dir") else None
    cols = [log_m]
    if ws is not None:
        ws = np.where(np.isfinite(ws), ws, np.nanmedian(ws) if np.isfinite(ws).any() else 0.0)
        cols += [ws, ws * log_m]
        if wd is not None:
            rad = np.radians(np.nan_to_num(wd, nan=0.0))
            cols += [ws * np.sin(rad), ws * np.cos(rad)]
    return np.column_stack(cols)


def _finish(f: dict, sid: str, p: str, nb, vals, ctx) -> dict | None:
    grid, in_range = ctx["grid"], ctx["in_range"]
    i0, i1 = f["i0"], f["i1"]
    if not in_range[i0:i1].any():
        return None   # history only: not in the screened range
    start, end = grid[0] + pd.Timedelta(hours=i0), grid[0] + pd.Timedelta(hours=i1)
    a, b = max(0, i0 - EVIDENCE_PAD), min(len(grid), i1 + EVIDENCE_PAD)
    step = max(1, (b - a) // EVIDENCE_MAX + (1 if (b - a) % EVIDENCE_MAX else 0))
    times = grid[a:b:step].tz_convert(CST)
    x = vals[p][sid][a:b:step]
    m = _nbr_median(vals[p], nb)[a:b:step] if len(nb) >= 1 and p in vals else None
    evidence = {"param": p, "times": [t.isoformat() for t in times], "station": _list(x),
                "neighbours": list(nb), "neighbours_median": _list(m) if m is not None else None}
    if f["rule"] == "pm25_above_pm10":
        evidence["pm10"] = _list(vals["pm10"][sid][a:b:step])
    rid = f"{sid}:{p}:{f['rule']}:{start.strftime('%Y%m%dT%H')}Z"
    en, zh = reason(f["rule"], sid, p, f["why"], start, end)
    return {"id": rid, "station": sid, "param": p, "rule": f["rule"],
            "start": start.tz_convert(CST).isoformat(), "end": end.tz_convert(CST).isoformat(),
            "hours": int((end - start) / pd.Timedelta(hours=1)), "score": round(f["score"], 3),
            "details": f["why"], "reason": {"en": en, "zh": zh}, "evidence": evidence}


def _list(a) -> list:
    return [None if not np.isfinite(v) else round(float(v), 3) for v in a]
