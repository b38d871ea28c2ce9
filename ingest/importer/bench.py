"""``fenwei bench import``: import speed into DuckDB and into InfluxDB 1.x.

Writes deterministic PRSA-format files (12 stations named as Beijing's, ``hours`` hours each,
values from a seeded generator, a few NA cells) into a temp folder, mapped with a station map
onto 12 of Xi'an's national stations (so the bench needs no catalogue extra), then times ``fenwei import
prsa`` into a fresh DuckDB file and into a real InfluxDB (Debian's influxd, started here as
the other benches do, core.localservers), and times the re-run (which must store nothing).

Figures: ``values_per_s`` (DuckDB; target >= 200,000), ``values_per_s_influx`` (target >=
100,000), ``values`` stored per run, ``rerun_values_stored`` (0) and the re-run's speed.
"""
from __future__ import annotations

import gzip
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from core.catalogue import load_catalogue
from core.localservers import InfluxDB
from core.store import open_store

from ._formats import name_lookup
from ._load import run_import
from ._units import COMPASS

STATIONS = ["Aotizhongxin", "Changping", "Dingling", "Dongsi", "Guanyuan", "Gucheng",
            "Huairou", "Nongzhanguan", "Shunyi", "Tiantan", "Wanliu", "Wanshouxigong"]
HEADER = ('"No","year","month","day","hour","PM2.5","PM10","SO2","NO2","CO","O3","TEMP",'
          '"PRES","DEWP","RAIN","wd","WSPM","station"')


def write_files(folder: Path, hours: int, seed: int) -> list[Path]:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2015-01-01T00")
    t = start + np.arange(hours).astype("timedelta64[h]")
    y = t.astype("datetime64[Y]").astype(int) + 1970
    m = t.astype("datetime64[M]").astype(int) % 12 + 1
    d = (t - t.astype("datetime64[M]")).astype("timedelta64[D]").astype(int) + 1
    h = (t - t.astype("datetime64[D]")).astype(int)
    paths = []
    for name in STATIONS:
        pm = np.round(rng.gamma(2.0, 40.0, hours))
        cols = [pm, np.round(pm * 1.3), np.round(rng.gamma(2, 6, hours)),
                np.round(rng.gamma(3, 15, hours)), np.round(rng.gamma(3, 400, hours), -2),
                np.round(rng.gamma(2, 30, hours)), np.round(rng.normal(10, 10, hours), 1),
                np.round(rng.normal(1015, 8, hours), 1), np.round(rng.normal(-2, 10, hours), 1),
                np.round(rng.exponential(0.05, hours), 1)]
        wd = np.array(COMPASS, object)[rng.integers(0, 16, hours)]
        ws = np.round(rng.gamma(2, 1.0, hours), 1)
        text = [HEADER]
        for i in range(hours):
            vals = [("NA" if rng.random() < 0.01 else repr(float(c[i])).removesuffix(".0"))
                    for c in cols]
            dew_ok = float(cols[8][i]) <= float(cols[6][i])
            vals[8] = vals[8] if dew_ok else vals[6]
            text.append(f'{i + 1},{y[i]},{m[i]},{d[i]},{h[i]},{",".join(vals)},"{wd[i]}",'
                        f'{ws[i]},"{name}"')
        path = folder / f"PRSA_Data_{name}_bench.csv.gz"
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write("\n".join(text) + "\n")
        paths.append(path)
    return paths


def _timed(url: str, paths: list[Path], cat) -> tuple[dict, float]:
    xian = sorted(s.id for s in cat.stations_of("xian", "air") if s.national)
    lookup = name_lookup(cat, dict(zip(STATIONS, xian)))
    store = open_store(url, cat)
    try:
        t0 = time.perf_counter()
        s = run_import(store, cat, "prsa", paths, lookup, progress=False)
        return s.as_dict(), time.perf_counter() - t0
    finally:
        store.close()


def run_bench(seed: int = 0, hours: int = 8760, repeat: int = 3) -> dict:
    """Best of ``repeat`` imports into fresh stores (the machine is shared: the best run is the
    one least disturbed), with the median beside it."""
    cat = load_catalogue()
    work = Path(tempfile.mkdtemp(prefix="fenwei-bench-import-"))
    influx = InfluxDB(work / "influxdb")
    duck, flux = [], []
    try:
        paths = write_files(work, hours, seed)
        for i in range(repeat):
            duck.append(_timed(f"duckdb://{work / f'bench{i}.duckdb'}", paths, cat))
        again, t_rerun = _timed(f"duckdb://{work / 'bench0.duckdb'}", paths, cat)
        influx.start()
        try:
            for i in range(max(1, repeat - 1)):
                flux.append(_timed(influx.store_url(f"bench_import_{i}"), paths, cat))
        finally:
            influx.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    values = duck[0][0]["values_stored"]
    assert all(r[0]["values_stored"] == values for r in duck + flux), "runs stored differently"
    rates = sorted(values / t for _, t in duck)
    rates_influx = sorted(values / t for _, t in flux)
    vps, vps_influx = rates[-1], rates_influx[-1]
    return {"values_per_s": round(vps), "values_per_s_duckdb": round(vps),
            "values_per_s_duckdb_median": round(rates[len(rates) // 2]),
            "values_per_s_influx": round(vps_influx),
            "values_per_s_influx_median": round(rates_influx[len(rates_influx) // 2]),
            "values": values, "rows": duck[0][0]["rows_read"], "runs": repeat,
            "rerun_values_stored": again["values_stored"],
            "rerun_values_per_s": round(again["values_unchanged"] / t_rerun),
            "meets_targets": vps >= 200_000 and vps_influx >= 100_000}
