"""Verification scores: errors of continuous forecasts and the 2 x 2 warning table.

Event forecasts (e.g. "daily AQI > 200") are scored on the contingency table
hits a, false alarms b, misses c:  POD = a / (a + c), FAR = b / (a + b),
CSI = a / (a + b + c). A score whose denominator is 0 is NaN (undefined, not perfect).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Contingency:
    hits: int
    false_alarms: int
    misses: int
    correct_negatives: int = 0

    @classmethod
    def of(cls, forecast, observed) -> "Contingency":
        """Table for boolean arrays; pairs where either side is missing (NaN) are skipped."""
        f, o = np.asarray(forecast, dtype=float), np.asarray(observed, dtype=float)
        ok = np.isfinite(f) & np.isfinite(o)
        f, o = f[ok] > 0.5, o[ok] > 0.5
        return cls(int((f & o).sum()), int((f & ~o).sum()), int((~f & o).sum()),
                   int((~f & ~o).sum()))

    def __add__(self, other: "Contingency") -> "Contingency":
        return Contingency(self.hits + other.hits, self.false_alarms + other.false_alarms,
                           self.misses + other.misses,
                           self.correct_negatives + other.correct_negatives)

    @property
    def pod(self) -> float:
        return _ratio(self.hits, self.hits + self.misses)

    @property
    def far(self) -> float:
        return _ratio(self.false_alarms, self.hits + self.false_alarms)

    @property
    def csi(self) -> float:
        return _ratio(self.hits, self.hits + self.false_alarms + self.misses)


def _ratio(num: int, den: int) -> float:
    return num / den if den else float("nan")


def _pairs(forecast, observed) -> np.ndarray:
    f, o = np.asarray(forecast, dtype=float), np.asarray(observed, dtype=float)
    ok = np.isfinite(f) & np.isfinite(o)
    return f[ok] - o[ok]


def mae(forecast, observed) -> float:
    e = _pairs(forecast, observed)
    return float(np.abs(e).mean()) if len(e) else float("nan")


def rmse(forecast, observed) -> float:
    e = _pairs(forecast, observed)
    return float(np.sqrt((e * e).mean())) if len(e) else float("nan")


def skill(score: float, reference: float) -> float:
    """1 - score / reference (RMSE skill score: 0.2 = 20 % better than the reference)."""
    return 1.0 - score / reference if reference else float("nan")


def pinball(forecast_q, observed, q: float) -> float:
    e = _pairs(observed, forecast_q)
    return float(np.mean(np.maximum(q * e, (q - 1) * e))) if len(e) else float("nan")
