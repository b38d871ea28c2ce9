"""Benchmark: recompute a year of hourly and daily AQI for many stations."""
from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from ._engine import daily_aqi, hourly_aqi, rolling_aqi

_MEANS = {"pm25": 55.0, "pm10": 95.0, "so2": 12.0, "no2": 38.0, "co": 0.9, "o3": 70.0}
_BAD_FLAGS = np.array(["F", "M", "S", "D", "C", "B"])


def synthetic_year(stations: int = 200, seed: int = 0, start: str = "2025-07-01") -> pd.DataFrame:
    """Wide hourly frame for a year (crossing the 2026 edition switch), ~2 % invalid flags."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range(pd.Timestamp(start, tz="Asia/Shanghai"), periods=8760, freq="h")
    n = stations * len(ts)
    data: dict[str, object] = {
        "station": np.repeat([f"S{i:04d}" for i in range(stations)], len(ts)),
        "ts": np.tile(ts.tz_convert("UTC"), stations),
    }
    for p, mean in _MEANS.items():
        data[p] = rng.lognormal(np.log(mean), 0.6, n).round(3)
        flags = np.full(n, "N", dtype="<U1")
        bad = rng.random(n) < 0.02
        flags[bad] = rng.choice(_BAD_FLAGS, bad.sum())
        data[f"{p}_flag"] = flags
    return pd.DataFrame(data)


def _timed(fn: Callable[[pd.DataFrame], pd.DataFrame], frame: pd.DataFrame):
    t = time.perf_counter()
    out = fn(frame)
    return time.perf_counter() - t, out


def run_bench(stations: int = 200, seed: int = 0, rolling: bool = False) -> dict:
    """Time hourly + daily AQI over a synthetic year; ``seconds`` is their sum."""
    frame = synthetic_year(stations, seed)
    hourly_s, hourly = _timed(hourly_aqi, frame)
    daily_s, daily = _timed(daily_aqi, frame)
    result = {
        "seconds": hourly_s + daily_s,
        "rows": len(frame),
        "stations": stations,
        "hourly_seconds": hourly_s,
        "daily_seconds": daily_s,
        "hourly_rows": len(hourly),
        "daily_rows": len(daily),
        "daily_insufficient": int((daily["status"] == "insufficient_data").sum()),
    }
    if rolling:
        result["rolling_seconds"], _ = _timed(rolling_aqi, frame)
    return result


if __name__ == "__main__":  # pragma: no cover
    print(run_bench(rolling=True))
