"""``fenwei bench inspect``: screening a year of hourly data for 20 stations (key
``seconds``: reading them from an embedded DuckDB store and screening; target under 60 s)."""
from __future__ import annotations

import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from core.catalogue import load_catalogue
from core.store import DuckDBStore
from core.wire import Reading

from ._rules import ScreenConfig
from ._screen import screen

START = datetime(2025, 1, 1, tzinfo=timezone.utc)
HOURS = 365 * 24
STATIONS = 20


def synthetic_year(cat, stations: list[str], seed: int) -> list[Reading]:
    """A shared regional signal (diurnal and synoptic cycles) times station factors and
    noise; wind shared."""
    rng = np.random.default_rng(seed)
    t = np.arange(HOURS)
    region = 60 * np.exp(0.5 * np.sin(2 * np.pi * t / 24) + 0.8 * np.sin(2 * np.pi * t / 120)
                         + 0.3 * rng.standard_normal(HOURS).cumsum() / np.sqrt(HOURS))
    ws = 1.5 + np.abs(np.sin(2 * np.pi * t / 72)) * 2
    wd = (t * 3) % 360
    out = []
    for sid in stations:
        st = cat.stations[sid]
        pm25 = region * rng.uniform(0.8, 1.2) * np.exp(0.1 * rng.standard_normal(HOURS))
        pm10 = pm25 * rng.uniform(1.5, 1.9) * np.exp(0.05 * rng.standard_normal(HOURS))
        for h in range(HOURS):
            out.append(Reading(sid, st.city, "air", START + timedelta(hours=h), "PT1H",
                               {"pm25": round(float(pm25[h]), 1), "pm10": round(float(pm10[h]), 1),
                                "wind_speed": round(float(ws[h]), 1),
                                "wind_dir": float(wd[h])}))
    return out


def run_bench(seed: int = 0) -> dict:
    cat = load_catalogue()
    air = [s for s in cat.stations.values() if s.kind == "air"]
    # the 20 stations nearest Xi'an's centre: dense neighbourhoods, the costly case
    air.sort(key=lambda s: (s.lat - 34.26) ** 2 + (s.lon - 108.94) ** 2)
    ids = [s.id for s in air[:STATIONS]]
    with tempfile.TemporaryDirectory() as d:
        store = DuckDBStore(Path(d) / "bench.duckdb", cat)
        t = time.perf_counter()
        rows = synthetic_year(cat, ids, seed)
        for i in range(0, len(rows), 50_000):
            store.write(rows[i:i + 50_000])
        written = time.perf_counter() - t
        t = time.perf_counter()
        end = START + timedelta(hours=HOURS)
        cfg = ScreenConfig()
        result = screen(store, cat, ids, START + timedelta(days=cfg.history_days), end, cfg)
        seconds = time.perf_counter() - t
        store.close()
    return {"seconds": round(seconds, 2), "stations": len(ids), "hours": HOURS,
            "findings": len(result["findings"]), "write_seconds": round(written, 2),
            "target_seconds": 60}
