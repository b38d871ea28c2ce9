"""Forecast stand-ins with the CityForecast interface, and a provider the service can call."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

T0 = datetime(2026, 1, 10, 0, 0, tzinfo=timezone.utc)   # 08:00 CST
H = timedelta(hours=1)


def seq(*parts: tuple[float, int], total: int = 96) -> list[float]:
    """(value, hours) runs, padded with clean air (AQI 60) to ``total`` hours."""
    out = [float(v) for v, n in parts for _ in range(n)]
    return (out + [60.0] * total)[:total]


class SeqForecast:
    """A CityForecast-like object whose rolling-24 h AQI sequence is given directly."""

    def __init__(self, city: str, issue_time: datetime, aqi, *, primary="pm25",
                 model_id: str = "test-model-v1", so2=None, cause: str | None = None,
                 p200=None) -> None:
        self.city, self.issue_time, self.model_id = city, issue_time, model_id
        self.aqi = np.asarray(aqi, float)
        n = len(self.aqi)
        self.ts = pd.date_range(issue_time, periods=n, freq="h")
        self.primary = [primary] * n if isinstance(primary, str) else list(primary)
        self.hourly = pd.DataFrame({"ts": self.ts, "lead_h": np.arange(1, n + 1)})
        if so2 is not None:
            self.hourly["so2_q50"] = np.asarray(so2, float)
        self.p200 = p200
        if cause:
            self.cause = cause

    def rolling_aqi(self, level: float = 200.0) -> pd.DataFrame:
        p = self.p200 if self.p200 is not None else (self.aqi > 200).astype(float)
        return pd.DataFrame({"ts": self.ts, "window_start": self.ts - 23 * H,
                             "aqi_q10": self.aqi - 10, "aqi_q50": self.aqi,
                             "aqi_q90": self.aqi + 10, "p_aqi_gt_200": p,
                             "primary": self.primary})


class Forecasts:
    """The service's forecast provider: ``(store, city, now) -> forecast``; clean air unless
    a city is set; issued at the hour of ``now``."""

    def __init__(self) -> None:
        self.by_city: dict[str, dict] = {}
        self.calls = 0

    def set(self, city: str, aqi, **kw) -> None:
        self.by_city[city] = {"aqi": aqi, **kw}

    def clear(self) -> None:
        self.by_city.clear()

    def __call__(self, store, city: str, now: datetime):
        self.calls += 1
        spec = dict(self.by_city.get(city) or {"aqi": seq()})
        issue = now.replace(minute=0, second=0, microsecond=0)
        return SeqForecast(city, issue, spec.pop("aqi"), **spec)
