"""Flow model: daily mean discharge 1-7 days ahead per river section, with P(below target).

Quantile gradient boosting on log flow change, one pipeline per quantile with section and
lead day as features: recession behaviour (the last days' flows and their decline) and the
upstream section's flow (which reaches the section after the catalogue's travel time).
Ecological targets are a parameter (the targets table belongs to another service).
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from ._aqi import prob_above
from ._panel import Panel

FLOW_DAYS = 7
QUANTILES = (0.1, 0.5, 0.9)
#: Placeholder ecological targets (m³/s), DOMAIN.md section 7; pass the real table instead.
PLACEHOLDER_TARGETS = {"huaxian": 12.0, "lintong": 12.0, "xianyang-wei": 10.0,
                       "weijiabao": 8.0, "linjiacun": 5.4, "hejin": 1.0}
NAMES = ["section", "lead_d", "doy_sin", "doy_cos", "lq1", "lq2", "lq3", "lq7", "recession",
         "up_lq1", "up_lq2", "up_excess", "up_travel_d"]
_HGB = dict(max_iter=80, learning_rate=0.1, max_leaf_nodes=15, min_samples_leaf=20,
            early_stopping=False, random_state=0)


def upstream_of(cat, sections: list[str]) -> dict[str, tuple[str, float]]:
    """section -> (the section above it on the same river, travel hours), where one exists."""
    out = {}
    for river in cat.rivers.values():
        secs = cat.river_sections(river.id)
        for a, b in zip(secs, secs[1:]):
            if b.id in sections and a.id in sections:
                out[b.id] = (a.id, a.travel_h_to_next)
    return out


@dataclass
class FlowForecast:
    """q: (3, N, S, 7) discharge quantiles; p_below: (N, S, 7); issue_pos: day rows."""

    issue_pos: np.ndarray
    sections: list[str]
    q: np.ndarray
    p_below: np.ndarray
    persistence: np.ndarray  # (N, S) last day's mean


@dataclass
class FlowModel:
    sections: list[str]
    upstream: dict[str, tuple[str, float]] = field(default_factory=dict)
    models: dict = field(default_factory=dict)
    train_s: float = 0.0

    def _design(self, panel: Panel, i0: np.ndarray):
        lq = np.log(np.maximum(panel.data["discharge"], 0.01))
        T, S = lq.shape
        at = lambda k: lq[np.clip(i0 - k, 0, T - 1)] * np.where((i0 - k >= 0)[:, None], 1, np.nan)  # noqa: E731
        f = {"lq1": at(1), "lq2": at(2), "lq3": at(3)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            f["lq7"] = np.nanmean(np.stack([at(k) for k in range(1, 8)]), axis=0)
        f["recession"] = f["lq1"] - f["lq2"]
        up_idx = [self.sections.index(self.upstream[s][0]) if s in self.upstream else -1
                  for s in self.sections]
        has_up = np.array(up_idx) >= 0
        pick = lambda a: np.where(has_up[None], a[:, np.maximum(up_idx, 0)], np.nan)  # noqa: E731
        f["up_lq1"], f["up_lq2"] = pick(f["lq1"]), pick(f["lq2"])
        f["up_excess"] = f["up_lq1"] - f["lq1"]
        travel = np.array([self.upstream[s][1] / 24 if s in self.upstream else np.nan
                           for s in self.sections])
        f["up_travel_d"] = np.broadcast_to(travel[None], f["lq1"].shape)
        doy = panel.index[np.clip(i0, 0, T - 1)].day_of_year.to_numpy()[:, None]
        f["doy_sin"] = np.broadcast_to(np.sin(2 * np.pi * doy / 365.25), f["lq1"].shape)
        f["doy_cos"] = np.broadcast_to(np.cos(2 * np.pi * doy / 365.25), f["lq1"].shape)
        f["section"] = np.broadcast_to(np.arange(S)[None], f["lq1"].shape)
        cols = []
        for name in NAMES:
            if name == "lead_d":
                cols.append(np.broadcast_to(np.arange(1, FLOW_DAYS + 1)[None, None],
                                            (len(i0), S, FLOW_DAYS)))
            else:
                cols.append(np.repeat(np.asarray(f[name], float)[:, :, None], FLOW_DAYS, 2))
        X = np.stack([c.ravel() for c in cols], axis=1).astype(np.float32)
        return X, f["lq1"]

    def fit(self, panel: Panel, i0: np.ndarray) -> "FlowModel":
        t = time.perf_counter()
        X, lq1 = self._design(panel, i0)
        lq = np.log(np.maximum(panel.data["discharge"], 0.01))
        idx = np.clip(i0[:, None] + np.arange(FLOW_DAYS)[None], 0, len(lq) - 1)
        y = (lq[idx].transpose(0, 2, 1) - lq1[:, :, None]).ravel()
        valid = (i0[:, None] + np.arange(FLOW_DAYS)[None] < len(lq))[:, None, :]
        y = np.where(np.broadcast_to(valid, (len(i0), len(self.sections), FLOW_DAYS)).ravel(),
                     y, np.nan)
        rows = np.isfinite(y) & np.isfinite(X[:, NAMES.index("lq1")])
        with threadpool_limits(limits=1, user_api="openmp"):
            for q in QUANTILES:
                m = HistGradientBoostingRegressor(loss="quantile", quantile=q,
                                                  categorical_features=[0], **_HGB)
                self.models[q] = m.fit(X[rows], y[rows])
        self.train_s = time.perf_counter() - t
        return self

    def predict(self, panel: Panel, i0: np.ndarray, targets: dict[str, float] | None = None
                ) -> FlowForecast:
        X, lq1 = self._design(panel, i0)
        n, S = len(i0), len(self.sections)
        with threadpool_limits(limits=1, user_api="openmp"):
            pred = np.stack([self.models[q].predict(X) for q in QUANTILES])
        q = np.exp(np.sort(pred, axis=0).reshape(3, n, S, FLOW_DAYS) + lq1[None, :, :, None])
        return _finish(i0, self.sections, q, np.exp(lq1), targets)

    def persistence(self, panel: Panel, i0: np.ndarray, targets=None) -> FlowForecast:
        return persistence_flow(panel, i0, self.sections, targets)


def persistence_flow(panel: Panel, i0: np.ndarray, sections, targets=None) -> FlowForecast:
    """Yesterday's mean for every lead day; spread +-10 % per sqrt(day)."""
    last = panel.data["discharge"][np.clip(i0 - 1, 0, None)]
    r = 0.08 * np.sqrt(np.arange(1, FLOW_DAYS + 1))
    q = np.stack([last[:, :, None] * np.exp(k * 1.28 * r) for k in (-1, 0, 1)])
    return _finish(i0, list(sections), q, last, targets)


def _finish(i0, sections, q, last, targets) -> FlowForecast:
    targets = PLACEHOLDER_TARGETS if targets is None else targets
    tgt = np.array([targets.get(s, np.nan) for s in sections])[None, :, None]
    with np.errstate(invalid="ignore"):
        p = 1.0 - prob_above(q[0], q[1], q[2], np.where(np.isfinite(tgt), tgt, 1e-6))
    p = np.where(np.isfinite(tgt), p, np.nan)
    return FlowForecast(i0, list(sections), q, p, last)
