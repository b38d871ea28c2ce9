"""Rolling-origin backtest: forecasts from every origin in a period, scored against what was
then observed, with persistence and climatology alongside.

Per lead day and pollutant: MAE and RMSE of the window-mean median forecast, the same for
persistence, RMSE skill against persistence. City daily AQI (lead-day windows; from 00:00
CST origins these are the calendar days): RMSE of model, persistence and climatology and,
for warning-level days (AQI > 200), POD, FAR and CSI by lead day, the model warning when
P(AQI > 200) >= ``warn_p``. The model can be refitted every ``refit_days`` on all data
before the block's first origin.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from tqdm import tqdm

from ._aqi import aqi, edition_of, window_indicators
from ._features import LEAD_DAYS
from ._scores import Contingency, mae, rmse, skill

INDICATORS = ("pm25", "pm10", "so2", "no2", "co", "o3_8h")


@dataclass
class BacktestResult:
    table: pd.DataFrame  # one row per (lead_d, target)
    contingency: dict[int, Contingency] = field(default_factory=dict)
    n_origins: int = 0
    p_warn: np.ndarray | None = None  # (N, K, D) forecast P(AQI > 200)
    obs_aqi: np.ndarray | None = None  # (N, K, D) observed AQI
    model_aqi: np.ndarray | None = None  # (N, K, D) median forecast AQI
    pers_aqi: np.ndarray | None = None  # (N, K) AQI of the 24 h before each origin
    origin_hours: np.ndarray | None = None  # (N,) hours since the epoch

    def by_lead(self, warn_p: float = 0.4) -> dict[str, dict]:
        """Per lead day: RMSE and category accuracy (HJ 633 categories I..VI) of the median
        forecast and of persistence against the observed daily AQI; POD/FAR of AQI > 200
        (warning when P(AQI > 200) >= ``warn_p``)."""
        out = {}
        for d in range(self.obs_aqi.shape[2]):
            o, m = self.obs_aqi[..., d], self.model_aqi[..., d]
            ok = np.isfinite(o)
            c = Contingency.of(np.where(ok, self.p_warn[..., d] >= warn_p, np.nan),
                               np.where(ok, o > 200, np.nan))
            out[str(d + 1)] = {
                "n": int(ok.sum()), "rmse_model": _r(rmse(m, o)),
                "rmse_persistence": _r(rmse(self.pers_aqi, o)),
                "category_accuracy": _r(category_accuracy(m, o), 3),
                "category_accuracy_persistence": _r(category_accuracy(self.pers_aqi, o), 3),
                "pod": _r(c.pod, 3), "far": _r(c.far, 3), "events": c.hits + c.misses}
        return out

    def contingency_at(self, warn_p: float, leads=(1, 2)) -> Contingency:
        """AQI > 200 table over ``leads`` for another warning probability."""
        out = Contingency(0, 0, 0)
        for d in leads:
            o = self.obs_aqi[..., d - 1]
            ok = np.isfinite(o)
            out = out + Contingency.of(np.where(ok, self.p_warn[..., d - 1] >= warn_p, np.nan),
                                       np.where(ok, o > 200, np.nan))
        return out

    def summary(self) -> dict:
        a = self.table[self.table["target"] == "aqi"].set_index("lead_d")
        ct = self.contingency.get(1, Contingency(0, 0, 0)) + \
            self.contingency.get(2, Contingency(0, 0, 0))
        return {"rmse_day1_model": round(float(a.loc[1, "rmse_model"]), 2),
                "rmse_day1_persistence": round(float(a.loc[1, "rmse_persistence"]), 2),
                "rmse_day1_climatology": round(float(a.loc[1, "rmse_climatology"]), 2),
                "skill_day1": round(float(a.loc[1, "skill"]), 3),
                "pod_day12": round(ct.pod, 3), "far_day12": round(ct.far, 3),
                "csi_day12": round(ct.csi, 3), "events_day12": ct.hits + ct.misses,
                "origins": self.n_origins}


def observed_windows(panel, i0: np.ndarray) -> tuple[dict, np.ndarray]:
    """Observed indicators (N, K, D) and AQI (N, K, D) of each origin's lead-day windows."""
    ind = {k: [] for k in INDICATORS}
    aq = []
    hours0 = int(panel.index[0].timestamp() // 3600)
    for d in range(LEAD_DAYS):
        w = window_indicators(panel.data, i0 + 24 * d)
        for k in INDICATORS:
            ind[k].append(w[k])
        aq.append(aqi(w, edition_of((hours0 + i0 + 24 * d) * 3600 * 10**9)[:, None]))
    return {k: np.stack(v, axis=2) for k, v in ind.items()}, np.stack(aq, axis=2)


def run_backtest(model, fb, origins: np.ndarray, met_feed=None, *, warn_p: float = 0.4,
                 block: int = 14, refit=None, progress: bool = True) -> BacktestResult:
    """Score ``model`` from each origin (panel rows). ``refit(first_origin) -> model`` is
    called at the start of each block when given."""
    acc: dict[str, list] = {"model": [], "pers": [], "clim": [], "obs_ind": [], "obs_aqi": [],
                            "p": []}
    blocks = [origins[k:k + block] for k in range(0, len(origins), block)]
    for blk in tqdm(blocks, desc="backtest", unit="block", disable=not progress):
        if refit is not None:
            model = refit(int(blk[0]))
        met = None
        if met_feed is not None:
            met = [met_feed.forecast(fb.p.index[i].to_pydatetime(), model.cities) for i in blk]
        fc = model.predict(fb, blk, met)
        acc["model"].append(fc)
        acc["pers"].append(model.persistence(fb, blk))
        acc["clim"].append(model.climatology_forecast(fb, blk))
        ind, aq = observed_windows(fb.p, blk)
        acc["obs_ind"].append(ind)
        acc["obs_aqi"].append(aq)
    return _score(acc, warn_p, len(origins))


def _cat(fcs, key, qi=1):
    return np.concatenate([f.q[key][qi] for f in fcs])


def _score(acc, warn_p: float, n: int) -> BacktestResult:
    obs_aqi = np.concatenate(acc["obs_aqi"])
    obs = {k: np.concatenate([o[k] for o in acc["obs_ind"]]) for k in INDICATORS}
    m_aqi = np.concatenate([f.aqi(1) for f in acc["model"]])
    c_aqi = np.concatenate([f.aqi(1) for f in acc["clim"]])
    p_aqi = np.concatenate([f.persistence_aqi() for f in acc["pers"]])
    p_warn = np.concatenate([f.p_aqi_above(200.0) for f in acc["model"]])
    rows, cont = [], {}
    for d in range(LEAD_DAYS):
        for k in INDICATORS:
            f, pz, o = _cat(acc["model"], k)[..., d], _cat(acc["pers"], k)[..., d], obs[k][..., d]
            rows.append(_row(d + 1, k, f, pz, _cat(acc["clim"], k)[..., d], o))
        rows.append(_row(d + 1, "aqi", m_aqi[..., d], p_aqi, c_aqi[..., d], obs_aqi[..., d]))
        ok = np.isfinite(obs_aqi[..., d])
        cont[d + 1] = Contingency.of(np.where(ok, p_warn[..., d] >= warn_p, np.nan),
                                     np.where(ok, obs_aqi[..., d] > 200, np.nan))
        c = cont[d + 1]
        rows[-1].update(pod=c.pod, far=c.far, csi=c.csi, hits=c.hits,
                        false_alarms=c.false_alarms, misses=c.misses)
    return BacktestResult(pd.DataFrame(rows), cont, n, p_warn, obs_aqi, m_aqi, p_aqi,
                          np.concatenate([f.issue_hours for f in acc["model"]]))


#: upper bounds of HJ 633 AQI categories I..V (VI above 300)
CATEGORY_TOPS = np.array([50, 100, 150, 200, 300])


def category(a: np.ndarray) -> np.ndarray:
    """HJ 633 category index 0..5 (I..VI) of AQI values (NaN stays NaN)."""
    a = np.asarray(a, float)
    return np.where(np.isfinite(a), np.searchsorted(CATEGORY_TOPS, np.ceil(a), side="left"),
                    np.nan)


def category_accuracy(forecast: np.ndarray, observed: np.ndarray) -> float:
    """Share of days (both known) whose forecast category equals the observed one."""
    f, o = np.broadcast_arrays(category(forecast), category(observed))
    ok = np.isfinite(f) & np.isfinite(o)
    return float((f[ok] == o[ok]).mean()) if ok.any() else float("nan")


def _r(x: float, nd: int = 2):
    return round(float(x), nd) if np.isfinite(x) else None


def _row(lead: int, target: str, f, pers, clim, obs) -> dict:
    r = {"lead_d": lead, "target": target, "n": int(np.isfinite(obs).sum()),
         "mae_model": mae(f, obs), "rmse_model": rmse(f, obs),
         "mae_persistence": mae(pers, obs), "rmse_persistence": rmse(pers, obs),
         "rmse_climatology": rmse(clim, obs)}
    r["skill"] = skill(r["rmse_model"], r["rmse_persistence"])
    return r


def format_table(table: pd.DataFrame) -> str:
    cols = ["lead_d", "target", "n", "mae_model", "rmse_model", "rmse_persistence",
            "rmse_climatology", "skill", "pod", "far", "csi"]
    t = table[[c for c in cols if c in table]].copy()
    return t.to_string(index=False, float_format=lambda x: f"{x:.3f}" if abs(x) < 10
                       else f"{x:.1f}", na_rep="")


def report(result: BacktestResult, cities, start, end, train_end, train_start, met,
           warn_p: float, model=None) -> dict:
    """The backtest's JSON object: training span, per-lead scores, POD/FAR of AQI > 200 at
    lead days 1-2 (pooled), and what weather the model was given."""
    from ._observed import LABEL

    def iso(t):
        return None if t is None else pd.Timestamp(t).tz_convert("Asia/Shanghai").isoformat()
    ct = result.contingency_at(warn_p, (1, 2))
    out = {"cities": list(cities), "start": iso(start), "end": iso(end),
           "n_days": int(len(result.origin_hours)), "issue_time_cst": "00:00",
           "train_start": iso(train_start), "train_end": iso(train_end),
           "training": (f"trained only on data in [{iso(train_start)}, {iso(train_end)})"
                        if train_end is not None else "the registry's current model"),
           "met": met or "feed",
           "met_note": LABEL if met == "observed" else (
               "no weather input" if met == "none" else "stored weather forecasts"),
           "warn_probability": warn_p,
           "leads": result.by_lead(warn_p),
           "pod": _r(ct.pod, 3), "far": _r(ct.far, 3), "events_day12": ct.hits + ct.misses}
    if model is not None and getattr(model, "features", None):
        out["variants"] = sorted(model.features)
    return out
