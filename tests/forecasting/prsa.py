"""Test helper: Beijing PRSA research files straight into a store (no importer needed).

The catalogue used here is the packaged one plus Beijing (GB/T 2260 110000) and its twelve
national stations 1001A-1012A (coordinates approximate, +-0.01 deg), built without the
packaged model's Fen-Wei bounds. PRSA conventions applied: local time (CST), an hour labelled
H is the mean of H-1..H (stored as the period starting H-1), CO in ug/m3 (stored mg/m3),
PRES hPa (stored kPa), DEWP dew point (RH derived with the Magnus formula, Alduchov and
Eskridge 1996: e_s(T) = 6.1094 exp(17.625 T / (T + 243.04))), wd a 16-point compass.

Data: Beijing Multi-Site Air-Quality Data set (UCI Machine Learning Repository), Beijing
Municipal Environmental Monitoring Center, CC BY 4.0; Zhang et al. (2017) Proc. R. Soc. A
473: 20170457. Excerpts in tests/data/beijing-prsa/ (see its README).
"""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from core.catalogue import Catalogue, City, Station, load_catalogue
from core.timeutil import CST
from core.wire import Reading

DATA = Path(__file__).resolve().parents[1] / "data" / "beijing-prsa"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "beijing-prsa"

#: station English name -> (national code, name_zh, lat, lon)
STATIONS = {
    "Wanshouxigong": ("1001A", "万寿西宫", 39.878, 116.352),
    "Dingling": ("1002A", "定陵", 40.292, 116.220),
    "Dongsi": ("1003A", "东四", 39.929, 116.417),
    "Tiantan": ("1004A", "天坛", 39.886, 116.407),
    "Nongzhanguan": ("1005A", "农展馆", 39.937, 116.461),
    "Guanyuan": ("1006A", "官园", 39.929, 116.339),
    "Wanliu": ("1007A", "海淀区万柳", 39.987, 116.287),
    "Shunyi": ("1008A", "顺义新城", 40.127, 116.655),
    "Huairou": ("1009A", "怀柔镇", 40.328, 116.628),
    "Changping": ("1010A", "昌平镇", 40.217, 116.230),
    "Aotizhongxin": ("1011A", "奥体中心", 40.003, 116.407),
    "Gucheng": ("1012A", "古城", 39.914, 116.184),
}
COMPASS = ["N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE",
           "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW"]


def beijing_catalogue() -> Catalogue:
    """Packaged catalogue + Beijing and its 12 national stations."""
    cat = load_catalogue()
    city = City.model_construct(slug="beijing", name_zh="北京", name_en="Beijing",
                                province="Beijing", lat=39.90, lon=116.40, guanzhong=False,
                                fenwei=False, observer=False, gb2260="110000")
    stations = {code: Station.model_construct(id=code, name_zh=zh, kind="air", city="beijing",
                                              lat=lat, lon=lon, national=True,
                                              simulated=False, interval_s=3600)
                for code, zh, lat, lon in STATIONS.values()}
    by_city = dict(cat._by_city)
    by_city["beijing"] = tuple(stations.values())
    return replace(cat, cities={**cat.cities, "beijing": city},
                   stations={**cat.stations, **stations}, _by_city=by_city)


def rh_from_dewpoint(temp_c, dew_c):
    """Relative humidity (%) from air temperature and dew point (Magnus, over water)."""
    def es(t):
        return 6.1094 * np.exp(17.625 * t / (t + 243.04))
    return np.clip(100.0 * es(np.asarray(dew_c, float)) / es(np.asarray(temp_c, float)), 0, 100)


def read_prsa(path: Path, start=None, end=None) -> pd.DataFrame:
    """One PRSA file -> frame with ``ts`` (UTC period start) and catalogue-unit columns."""
    df = pd.read_csv(path, na_values=["NA"])
    for col in ("PM2.5", "PM10", "SO2", "NO2", "CO", "O3", "TEMP", "PRES", "DEWP", "WSPM"):
        df[col] = pd.to_numeric(df[col], errors="coerce")
    label = pd.to_datetime(df[["year", "month", "day", "hour"]]).dt.tz_localize(CST)
    out = pd.DataFrame({"ts": (label - pd.Timedelta(hours=1)).dt.tz_convert("UTC"),
                        "station": df["station"]})
    out["pm25"], out["pm10"] = df["PM2.5"], df["PM10"]
    out["so2"], out["no2"], out["o3"] = df["SO2"], df["NO2"], df["O3"]
    out["co"] = df["CO"] / 1000.0                      # ug/m3 -> mg/m3
    out["temp"], out["pressure"] = df["TEMP"], df["PRES"] / 10.0   # hPa -> kPa
    out["rh"] = rh_from_dewpoint(df["TEMP"], df["DEWP"])
    out["wind_speed"] = df["WSPM"]
    deg = {name: 22.5 * i for i, name in enumerate(COMPASS)}
    out["wind_dir"] = df["wd"].map(deg)
    if start is not None:
        out = out[(out["ts"] >= pd.Timestamp(start)) & (out["ts"] < pd.Timestamp(end))]
    return out.reset_index(drop=True)


PARAMS = ("pm25", "pm10", "so2", "no2", "co", "o3", "temp", "rh", "pressure", "wind_speed",
          "wind_dir")


def readings(frame: pd.DataFrame) -> list[Reading]:
    out = []
    vals = frame[list(PARAMS)].to_numpy(float)
    for (ts, name), row in zip(frame[["ts", "station"]].itertuples(index=False), vals):
        v = {p: float(x) for p, x in zip(PARAMS, row) if np.isfinite(x)}
        if v:
            out.append(Reading(STATIONS[name][0], "beijing", "air", ts.to_pydatetime(),
                               "PT1H", v))
    return out


def load_into(store, paths, start=None, end=None, chunk: int = 20000) -> int:
    n = 0
    for path in paths:
        rows = readings(read_prsa(Path(path), start, end))
        for k in range(0, len(rows), chunk):
            n += store.write(rows[k:k + chunk])
    return n


__all__ = ["DATA", "SHARED", "STATIONS", "beijing_catalogue", "load_into", "read_prsa",
           "rh_from_dewpoint", "timedelta"]
