"""``fenwei bench api``: query times through the HTTP API on a year of hourly data.

One synthetic year (2025-07-01 .. 2026-07-01 CST, crossing the HJ 633 edition switch) of
hourly PM2.5, PM10, SO2, NO2, CO and O3 for ``stations`` air stations (the catalogue's, then
``BENCH-nnn`` ids spread over the 17 cities; the store only checks identifier syntax), from
:func:`core.aqi.bench.synthetic_year`; daily AQI per station and per city derived once and
written as ``aqi_daily``. The same data goes into a DuckDB file and a throwaway InfluxDB
(:class:`core.localservers.InfluxDB`); each store is served by the API in its own process
(one uvicorn, as ``fenwei api run`` serves it) on a loopback port, and timed over HTTP
from this process (httpx, keep-alive):

* ``station_year_ms``: ``GET /stations/{id}/series`` of one station, six pollutants, raw
  hourly values over the year (8,760 rows with flags, JSON); median of 5 after a warm-up.
* ``city_daily_year_ms``: daily AQI of all 17 cities over the year, i.e. 17 sequential
  ``GET /aqi/history?scope=city&period=daily`` (365 rows each); median of 3 rounds.
* ``p99_ms_50_readers``: 50 threads, one client each, start together and send 20 requests
  each, cycling through a dashboard-like mix (a station's last 7 days raw; a city's daily AQI
  over 30 days; a city's daily PM2.5 aggregate over 30 days); p99 of the 1,000 latencies,
  and the server process's CPU time per request over that phase.

Top-level ``station_year_ms``, ``city_daily_year_ms`` and ``p99_ms_50_readers`` are the
DuckDB figures; ``influxdb_*`` the InfluxDB ones; ``duckdb`` / ``influxdb`` hold everything.
"""
from __future__ import annotations

import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from core.aqi import city_aqi, daily_aqi
from core.aqi.bench import synthetic_year
from core.catalogue import load_catalogue
from core.localservers import InfluxDB, ServerError, free_port
from core.store import open_store
from core.timeutil import CST
from core.wire import Reading

from ._settings import ApiSettings
from .app import create_app
from .auth import KeyStore, RateLimiter

START = datetime(2025, 7, 1, tzinfo=CST)
END = START + timedelta(days=365)
POLL = ("pm25", "pm10", "so2", "no2", "co", "o3")
KEEP = ("aqi", "level", "category", "primary", "exceeding", "status", "edition")
READERS, PER_READER = 50, 20


def _stations(cat, n: int) -> dict[str, str]:
    """``n`` station ids -> city: the catalogue's national air stations, then synthetic."""
    real = {s.id: s.city for s in cat.stations.values() if s.kind == "air" and s.national}
    ids = dict(list(real.items())[:n])
    cities = sorted(cat.cities)
    for i in range(n - len(ids)):
        ids[f"BENCH-{i:03d}"] = cities[i % len(cities)]
    return ids


def _year(ids: dict[str, str], seed: int) -> pd.DataFrame:
    frame = synthetic_year(len(ids), seed, start=START.strftime("%Y-%m-%d"))
    names = np.array(list(ids))
    frame["station"] = names[frame["station"].str[1:].astype(int).to_numpy()]
    return frame


def _readings(frame: pd.DataFrame, ids: dict[str, str]):
    """The frame as Readings, one station at a time (1.75 M objects would not fit at once)."""
    for station, g in frame.groupby("station", sort=False):
        vals = g[list(POLL)].to_numpy()
        flags = g[[f"{p}_flag" for p in POLL]].to_numpy()
        city = ids[station]
        yield [Reading(station, city, "air", ts.to_pydatetime(), "PT1H",
                       dict(zip(POLL, v.tolist())),
                       {p: f for p, f in zip(POLL, fl) if f != "N"})
               for ts, v, fl in zip(g["ts"], vals, flags)]


def _daily_aqi(frame: pd.DataFrame, ids: dict[str, str]) -> pd.DataFrame:
    parts = []
    for scope, df in (("station", daily_aqi(frame)), ("city", city_aqi(frame, ids, "daily"))):
        out = df[["station", "ts", *KEEP]].rename(columns={"ts": "time"}).copy()
        out["scope"] = scope
        for c in ("station", "edition", "category"):
            out[c] = out[c].astype(str)
        out["level"] = out["level"].astype("float64")
        for c in ("primary", "exceeding", "status"):
            out[c] = out[c].fillna("").astype(str)
        parts.append(out)
    return pd.concat(parts, ignore_index=True)


def _load(store, frame, ids, aqi, influx: bool) -> float:
    t = time.perf_counter()
    for batch in _readings(frame, ids):
        if influx:
            from core.store import lines
            body = lines(batch)
            for i in range(0, len(body), 5000):
                store.write_lines(body[i:i + 5000])
        else:
            store.write(batch)
    store.write_frame("aqi_daily", aqi, ["station", "scope"])
    return time.perf_counter() - t


class _Server:
    """The API as it runs in production (``fenwei api run``: one uvicorn process) on a free
    loopback port, over the store at ``store_url``. Its own process: client threads in the
    server's interpreter would take turns with it for the GIL and be counted as its
    latency."""

    def __init__(self, store_url: str, keys_url: str) -> None:
        self.port = free_port()
        self.argv = [sys.executable, "-m", "api.bench", "--serve", store_url, keys_url,
                     str(self.port), str(END.timestamp())]
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "_Server":
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL)
        self.base = base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.__exit__()
                raise RuntimeError("the API server did not start")
            time.sleep(0.1)

    def cpu_s(self) -> float:
        """CPU seconds the server process has used so far (user + system)."""
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def _serve(store_url: str, keys_url: str, port: int, now: float) -> None:
    """The server process of :class:`_Server` (``python -m api.bench --serve ...``)."""
    import uvicorn
    cat = load_catalogue()
    store = open_store(store_url, cat)
    app = create_app(store, cat, KeyStore(keys_url), limiter=RateLimiter(1e9, 1e9),
                     clock=lambda: now, max_concurrent=ApiSettings().max_concurrent)
    try:
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    finally:
        store.close()


def _get(client: httpx.Client, path: str, params: dict) -> float:
    t = time.perf_counter()
    r = client.get(path, params=params)
    ms = (time.perf_counter() - t) * 1000
    if r.status_code != 200:
        raise RuntimeError(f"{path} {params} -> {r.status_code}: {r.text[:200]}")
    return ms


def _station_year(client, station: str) -> tuple[float, int]:
    params = {"params": ",".join(POLL), "start": START.isoformat(), "end": END.isoformat()}
    rows = client.get(f"/stations/{station}/series", params=params).json()["count"]
    return statistics.median(_get(client, f"/stations/{station}/series", params)
                             for _ in range(5)), rows


def _city_daily_year(client, cities: list[str]) -> float:
    params = {"scope": "city", "period": "daily", "start": START.isoformat(),
              "end": END.isoformat()}
    rounds = [sum(_get(client, "/aqi/history", {**params, "id": c}) for c in cities)
              for _ in range(3)]
    return statistics.median(rounds)


def _mix(station: str, city: str) -> list[tuple[str, dict]]:
    week, month = END - timedelta(days=7), END - timedelta(days=30)
    return [(f"/stations/{station}/series", {"params": ",".join(POLL),
                                             "start": week.isoformat(), "end": END.isoformat()}),
            ("/aqi/history", {"id": city, "scope": "city", "period": "daily",
                              "start": month.isoformat(), "end": END.isoformat()}),
            ("/series", {"cities": city, "params": "pm25", "every": "1d", "by": "city",
                         "start": month.isoformat(), "end": END.isoformat()})]


def _readers(base: str, headers: dict, stations: list[str], cities: list[str],
             seed: int) -> dict:
    rng = np.random.default_rng(seed)
    plans = [[_mix(str(rng.choice(stations)), str(rng.choice(cities)))[(k + i) % 3]
              for i in range(PER_READER)] for k in range(READERS)]
    barrier = threading.Barrier(READERS)

    errors: list[str] = []

    def reader(plan) -> list[float]:
        out = []
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            client.get("/health")
            barrier.wait()
            for path, params in plan:
                try:
                    out.append(_get(client, path, params))
                except RuntimeError as exc:  # counted and reported, not fatal
                    errors.append(str(exc))
        return out
    t = time.perf_counter()
    with ThreadPoolExecutor(READERS) as pool:
        lat = np.concatenate([np.array(x, dtype=float) for x in pool.map(reader, plans)])
    wall = time.perf_counter() - t
    return {"errors_50_readers": len(errors), "first_error": errors[0][:200] if errors else None,
            "p50_ms_50_readers": round(float(np.percentile(lat, 50)), 1),
            "p99_ms_50_readers": round(float(np.percentile(lat, 99)), 1),
            "max_ms_50_readers": round(float(lat.max()), 1),
            "requests_per_s_50_readers": round(len(lat) / wall, 1)}


def _measure(store_url: str, cat, keys_url: str, token: str, ids: dict[str, str],
             seed: int) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    station = next(iter(ids))  # a catalogue station: the API refuses unknown ids
    real = [s for s in ids if s in cat.stations]
    with _Server(store_url, keys_url) as server, \
            httpx.Client(base_url=server.base, headers=headers, timeout=120) as client:
        station_ms, rows = _station_year(client, station)
        city_ms = _city_daily_year(client, sorted(cat.cities))
        cpu = server.cpu_s()
        load = _readers(server.base, headers, real, sorted(cat.cities), seed)
        cpu = server.cpu_s() - cpu
    return {"station_year_ms": round(station_ms, 1), "station_year_rows": rows,
            "city_daily_year_ms": round(city_ms, 1), **load,
            "server_cpu_ms_per_request_50_readers": round(cpu * 1000 / (READERS * PER_READER),
                                                          1)}


def _one_store(kind: str, work: Path, cat, frame, ids, aqi, keys_url, token, seed) -> dict:
    if kind == "duckdb":
        url = f"duckdb://{work / 'bench.duckdb'}"
        store = open_store(url, cat)
        try:
            load_s = _load(store, frame, ids, aqi, influx=False)
        finally:
            store.close()  # one process at a time may open a DuckDB file
        return {"load_s": round(load_s, 1), **_measure(url, cat, keys_url, token, ids, seed)}
    with InfluxDB(work / "influxdb") as server:
        url = server.store_url("bench")
        store = open_store(url, cat)
        try:
            load_s = _load(store, frame, ids, aqi, influx=True)
        finally:
            store.close()
        return {"load_s": round(load_s, 1), **_measure(url, cat, keys_url, token, ids, seed)}


def run_bench(stations: int = 200, seed: int = 0,
              stores: tuple[str, ...] = ("duckdb", "influxdb")) -> dict:
    """Build the year, load it into each store, time the API; see the module docstring."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request
    cat = load_catalogue()
    ids = _stations(cat, stations)
    t = time.perf_counter()
    frame = _year(ids, seed)
    aqi = _daily_aqi(frame, ids)
    out: dict = {"stations": stations, "points": len(frame), "aqi_daily_rows": len(aqi),
                 "prepare_s": round(time.perf_counter() - t, 1)}
    with tempfile.TemporaryDirectory(prefix="fenwei-bench-api-") as tmp:
        work = Path(tmp)
        keys_url = f"sqlite:///{work / 'keys.db'}"
        token = KeyStore(keys_url).create("bench", "inspector")[1]
        for kind in stores:
            try:
                out[kind] = _one_store(kind, work, cat, frame, ids, aqi, keys_url, token, seed)
            except ServerError as exc:
                out[kind] = {"error": f"InfluxDB could not start: {exc}"[:300]}
    for kind in stores:
        prefix = "" if kind == "duckdb" else f"{kind}_"
        for key in ("station_year_ms", "city_daily_year_ms", "p99_ms_50_readers"):
            if key in out[kind]:
                out[prefix + key] = out[kind][key]
    return out


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:2] == ["--serve"]:
        _serve(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
    else:
        import json
        print(json.dumps(run_bench(), indent=1))
