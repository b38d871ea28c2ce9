"""The import formats: each parser turns a file into :class:`Chunk` s in catalogue units.

* ``prsa``: the Beijing multi-site research files (``PRSA_Data_<Station>_<span>.csv[.gz]``);
* ``cnemc``: the national network's daily site files (``china_sites_YYYYMMDD.csv``) and city
  files (``china_cities_YYYYMMDD.csv``, one column per city's Chinese name: stored as
  measurement ``city_obs``, tag ``city``, one field per parameter);
* ``long``: ``station, time, parameter, value[, flag]`` in catalogue units.

Times: an hour labelled H (local China Standard Time in ``prsa`` and ``cnemc``, or the offset
given in ``long``) is the mean over H-1..H and is stored as the PT1H reading starting at H-1.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from core.catalogue import Catalogue
from core.flags import FLAGS, normalise

from ._model import Chunk
from ._units import COMPASS_DEG, HOUR, hpa_to_kpa, rh_from_dewpoint, ug_to_mg

CST_S = 8 * 3600
CHUNK_ROWS = 50_000
NA = ["NA", ""]
UNKNOWN = "<unknown>"     # a station not in the catalogue (no station id has "<")


class FormatError(ValueError):
    """A file is not in the format asked for (a header is missing)."""


# -- shared steps ------------------------------------------------------------------------
def _numeric(col: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values, missing mask, not-a-number mask) of a text or numeric column."""
    missing = col.isna().to_numpy()
    if col.dtype.kind in "if":
        return col.to_numpy("float64"), missing, np.zeros(len(col), bool)
    col = col.astype("string").str.strip()         # a blank cell (" ") is a missing value
    missing = (col.isna() | (col == "")).to_numpy(bool)
    vals = pd.to_numeric(col.mask(col == ""), errors="coerce").to_numpy("float64")
    return vals, missing, np.isnan(vals) & ~missing


def _label_epoch(local: pd.Series) -> np.ndarray:
    """Naive local (CST) datetimes -> UTC epoch seconds (NaT -> minimum int)."""
    return local.to_numpy("datetime64[s]").astype("int64") - CST_S


def _stations(names: np.ndarray, lookup: Callable[[str], str | None], cat: Catalogue, kind: str):
    """station ids and cities for ``names`` (None where unknown or of another kind)."""
    ids, cities = np.empty(len(names), object), np.empty(len(names), object)
    cache: dict = {}
    for i, name in enumerate(names):
        if name not in cache:
            sid = lookup(str(name))
            st = cat.stations.get(sid) if sid else None
            cache[name] = (st.id, st.city) if st is not None and st.kind == kind else (None, None)
        ids[i], cities[i] = cache[name]
    return ids, cities


def name_lookup(cat: Catalogue, station_map: dict[str, str] | None = None
                ) -> Callable[[str], str | None]:
    """English name (any case, spaces ignored), explicit map, or the id itself -> station id."""
    def key(s: str) -> str:
        return "".join(s.split()).lower()
    by_name = {key(s.name_en): s.id for s in cat.stations.values() if s.name_en}
    explicit = {key(k): v for k, v in (station_map or {}).items()}

    def lookup(name: str) -> str | None:
        k = key(name)
        if k in explicit:
            return explicit[k]
        if k in by_name:
            return by_name[k]
        return name if name in cat.stations else None
    return lookup


#: a chunk of city-level observations (CNEMC city files), stored as measurement city_obs
CITY_KIND = "city"


def city_names(cat: Catalogue) -> dict[str, str]:
    """Chinese name (as CNEMC's city files head their columns, e.g. 西安) or English name
    -> catalogue city slug."""
    out = {c.name_en: slug for slug, c in cat.cities.items() if c.name_en}
    out.update({c.name_zh: slug for slug, c in cat.cities.items() if c.name_zh})
    return out


def _finish(chunk: Chunk) -> Chunk:
    """Rows with a bad time or an unknown station: their values are refused with that reason;
    rows repeating a station-hour: the earlier ones' values are refused as ``duplicate``."""
    good = np.array([s is not None for s in chunk.station], bool) & (chunk.ts > 0)
    present = sum((~np.isnan(v)).astype("int64") for v in chunk.values.values()) \
        if chunk.values else np.zeros(len(chunk.ts), "int64")
    unknown = "unknown_city" if chunk.kind == CITY_KIND else "unknown_station"
    for reason, mask in (("bad_time", chunk.ts <= 0),
                         (unknown, (chunk.ts > 0) & ~good)):
        if mask.any():
            chunk.rejected[reason] += int(present[mask].sum())
    keys = pd.DataFrame({"s": chunk.station, "t": chunk.ts})
    dup = keys.duplicated(keep="last").to_numpy() & good
    if dup.any():
        chunk.rejected["duplicate"] += int(present[dup].sum())
    keep = good & ~dup
    if not keep.all():
        chunk.station, chunk.city, chunk.ts = (chunk.station[keep], chunk.city[keep],
                                               chunk.ts[keep])
        chunk.values = {p: v[keep] for p, v in chunk.values.items()}
        chunk.flags = {p: f[keep] for p, f in chunk.flags.items()}
    return chunk


# -- prsa ----------------------------------------------------------------------------------
PRSA_COLUMNS = ["No", "year", "month", "day", "hour", "PM2.5", "PM10", "SO2", "NO2", "CO", "O3",
                "TEMP", "PRES", "DEWP", "RAIN", "wd", "WSPM", "station"]
#: source column -> (parameter, conversion); RH is derived from DEWP with TEMP
PRSA_PARAMS = {"PM2.5": ("pm25", None), "PM10": ("pm10", None), "SO2": ("so2", None),
               "NO2": ("no2", None), "CO": ("co", ug_to_mg), "O3": ("o3", None),
               "TEMP": ("temp", None), "PRES": ("pressure", hpa_to_kpa),
               "RAIN": ("precip", None), "WSPM": ("wind_speed", None)}


def parse_prsa(path: Path, cat: Catalogue, lookup, skip_rows: int = 0,
               chunk_rows: int | None = None) -> Iterator[Chunk]:
    reader = pd.read_csv(path, keep_default_na=False, na_values=NA,
                         chunksize=chunk_rows or CHUNK_ROWS,
                         dtype={"wd": "string", "station": "string"},
                         skiprows=range(1, skip_rows + 1) if skip_rows else None)
    done = skip_rows
    for df in reader:
        missing_cols = [c for c in PRSA_COLUMNS if c not in df.columns]
        if missing_cols:
            raise FormatError(f"{path.name}: not a PRSA file, missing {missing_cols}")
        done += len(df)
        yield _finish(_prsa_chunk(df, cat, lookup, done))


def _prsa_chunk(df: pd.DataFrame, cat: Catalogue, lookup, end_row: int) -> Chunk:
    when = pd.to_datetime(df[["year", "month", "day", "hour"]].apply(
        pd.to_numeric, errors="coerce"), errors="coerce")
    label = _label_epoch(when)
    ts = np.where(when.isna().to_numpy(), 0, label - HOUR)
    ids, cities = _stations(df["station"].to_numpy(object), lookup, cat, "air")
    chunk = Chunk("air", ids, cities, ts, {}, rows=len(df), end_row=end_row)
    for col, (param, convert) in PRSA_PARAMS.items():
        vals, missing, bad = _numeric(df[col])
        _count(chunk, missing, bad, "not_a_number")
        vals = np.where(bad, np.nan, vals)
        chunk.values[param] = convert(vals) if convert else vals
    dew, missing, bad = _numeric(df["DEWP"])
    _count(chunk, missing, bad, "not_a_number")
    dew = np.where(bad, np.nan, dew)
    no_temp = ~np.isnan(dew) & np.isnan(chunk.values["temp"])
    chunk.rejected["rh_without_temperature"] += int(no_temp.sum())
    chunk.values["rh"] = rh_from_dewpoint(chunk.values["temp"], dew)
    wd = df["wd"]
    missing = wd.isna().to_numpy()
    deg = wd.str.strip().str.upper().map(COMPASS_DEG).to_numpy("float64", na_value=np.nan)
    _count(chunk, missing, np.isnan(deg) & ~missing, "not_a_compass_point")
    chunk.values["wind_dir"] = deg
    chunk.rejected = +chunk.rejected
    return chunk


def _count(chunk: Chunk, missing: np.ndarray, bad: np.ndarray, reason: str) -> None:
    chunk.missing += int(missing.sum())
    if bad.any():
        chunk.rejected[reason] += int(bad.sum())


# -- cnemc ---------------------------------------------------------------------------------
#: hourly types -> parameter (all already in catalogue units: CO mg/m3, the rest µg/m3)
CNEMC_HOURLY = {"PM2.5": "pm25", "PM10": "pm10", "SO2": "so2", "NO2": "no2", "O3": "o3",
                "CO": "co"}
#: published aggregates and the AQI: read, counted as skipped (Fenwei computes them itself)
CNEMC_DERIVED = {"PM2.5_24h", "PM10_24h", "SO2_24h", "NO2_24h", "O3_24h", "O3_8h",
                 "O3_8h_24h", "CO_24h", "AQI"}


def parse_cnemc(path: Path, cat: Catalogue, lookup, skip_rows: int = 0,
                chunk_rows: int | None = None) -> Iterator[Chunk]:
    df = pd.read_csv(path, keep_default_na=False, na_values=NA, dtype={"type": "string"})
    if not {"date", "hour", "type"} <= set(df.columns):
        raise FormatError(f"{path.name}: not a CNEMC site file (date, hour, type, codes...)")
    codes = [c for c in df.columns if c not in ("date", "hour", "type")]
    by_name = city_names(cat)
    city_file = bool(codes) and sum(c.strip() in by_name for c in codes) * 2 > len(codes)
    long = df.melt(id_vars=["date", "hour", "type"], value_vars=codes, var_name="code",
                   value_name="value")
    chunk = Chunk("air", np.array([], object), np.array([], object), np.array([], "int64"), {},
                  rows=len(df), end_row=len(df))
    vals, missing, bad = _numeric(long["value"])
    long["value"] = np.where(bad, np.nan, vals)
    typ = long["type"].fillna("").str.strip()
    known = typ.isin(CNEMC_HOURLY).to_numpy()
    derived = typ.isin(CNEMC_DERIVED).to_numpy()
    has = ~missing
    chunk.missing += int(missing.sum())
    chunk.rejected["not_a_number"] += int((bad & known).sum())
    for t, n in Counter(typ[derived & has]).items():
        chunk.skipped[f"derived_{t}"] += n
    chunk.rejected["unknown_type"] += int((~known & ~derived & has).sum())
    hourly = long[known & ~bad & has].copy()
    hourly["param"] = typ[known & ~bad & has].map(CNEMC_HOURLY)
    when = pd.to_datetime(hourly["date"].astype(str), format="%Y%m%d", errors="coerce") + \
        pd.to_timedelta(pd.to_numeric(hourly["hour"], errors="coerce"), unit="h")
    hourly["ts"] = np.where(when.isna().to_numpy(), 0, _label_epoch(when) - HOUR)
    wide = hourly.pivot_table(index=["code", "ts"], columns="param", values="value",
                              aggfunc="last")
    counts = hourly.groupby(["code", "ts", "param"]).size()
    chunk.rejected["duplicate"] += int((counts - 1).sum())
    wide = wide.reset_index()
    if city_file:       # city-level observations: measurement city_obs (see _load)
        slugs = np.array([by_name.get(str(c).strip()) for c in wide["code"]], object)
        chunk.kind, ids, cities = CITY_KIND, slugs, slugs
    else:
        ids, cities = _stations(wide["code"].to_numpy(object), lookup, cat, "air")
    chunk.station, chunk.city = ids, cities
    chunk.ts = wide["ts"].to_numpy("int64")
    chunk.values = {p: wide[p].to_numpy("float64") if p in wide else
                    np.full(len(wide), np.nan) for p in CNEMC_HOURLY.values()}
    chunk.rejected = +chunk.rejected
    if skip_rows < len(df):
        yield _finish(chunk)


# -- long ----------------------------------------------------------------------------------
LONG_COLUMNS = ["station", "time", "parameter", "value"]


def parse_long(path: Path, cat: Catalogue, lookup, skip_rows: int = 0,
               chunk_rows: int | None = None) -> Iterator[Chunk]:
    reader = pd.read_csv(path, keep_default_na=False, na_values=NA,
                         chunksize=chunk_rows or CHUNK_ROWS,
                         dtype={"station": "string", "time": "string", "parameter": "string",
                                "flag": "string"},
                         skiprows=range(1, skip_rows + 1) if skip_rows else None)
    done = skip_rows
    for df in reader:
        if not set(LONG_COLUMNS) <= set(df.columns):
            raise FormatError(f"{path.name}: not a long file, needs columns {LONG_COLUMNS}")
        done += len(df)
        yield from _long_chunks(df, cat, lookup, done)


def _long_times(text: pd.Series) -> np.ndarray:
    """ISO 8601 labels -> UTC epoch s of the period start (0 where unreadable); no offset
    means China Standard Time."""
    out = np.zeros(len(text), "int64")
    naive = ~text.fillna("").str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True).to_numpy()
    for mask, utc in ((naive, False), (~naive, True)):
        if mask.any():
            t = pd.to_datetime(text[mask], errors="coerce", utc=utc, format="ISO8601")
            ok = ~t.isna().to_numpy()
            if utc:
                sec = t.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[s]")
                sec = sec.astype("int64")
            else:
                sec = t.to_numpy("datetime64[s]").astype("int64") - CST_S
            out[np.flatnonzero(mask)[ok]] = sec[ok] - HOUR
    return out


def _long_chunks(df: pd.DataFrame, cat: Catalogue, lookup, end_row: int) -> Iterator[Chunk]:
    vals, missing, bad = _numeric(df["value"])
    ts = _long_times(df["time"])
    params = df["parameter"].fillna("").str.strip().to_numpy(object)
    flags = df["flag"].fillna("").str.strip().str.upper().to_numpy(object) \
        if "flag" in df.columns else None
    ids = np.empty(len(df), object)
    kinds = np.empty(len(df), object)
    for name in pd.unique(df["station"].fillna("")):
        sid = lookup(str(name))
        m = (df["station"].fillna("") == name).to_numpy()
        ids[m] = sid
        kinds[m] = cat.stations[sid].kind if sid in cat.stations else None
    base = Counter()
    base["not_a_number"] += int(bad.sum())
    pkind = np.array([cat.parameters[p].kind if p in cat.parameters else None for p in params],
                     object)
    has = ~missing & ~bad
    unknown_p = has & (pkind == None)  # noqa: E711 - elementwise
    base["unknown_parameter"] += int(unknown_p.sum())
    wrong = has & ~unknown_p & (kinds != None) & (pkind != kinds)  # noqa: E711
    base["parameter_of_other_kind"] += int(wrong.sum())
    bad_flag = np.zeros(len(df), bool)
    if flags is not None:
        bad_flag = np.array([f != "" and normalise(f) not in FLAGS for f in flags], bool) & has
        base["bad_flag"] += int((bad_flag & ~unknown_p & ~wrong).sum())
    use = has & ~unknown_p & ~wrong & ~bad_flag
    first = True
    for kind in ("air", "hydro"):
        m = use & ((kinds == kind) | ((kinds == None) & (pkind == kind)))  # noqa: E711
        if not m.any() and not first:
            continue
        sub = pd.DataFrame({"station": ids[m], "ts": ts[m], "p": params[m], "v": vals[m]})
        if flags is not None:
            sub["f"] = [normalise(f) if f else "N" for f in flags[m]]
        chunk = Chunk(kind, np.array([], object), np.array([], object), np.array([], "int64"),
                      {}, rows=len(df) if first else 0, end_row=end_row)
        if first:
            chunk.missing, chunk.rejected = int(missing.sum()), +base
            first = False
        sub["station"] = sub["station"].fillna(UNKNOWN)
        dup = sub.duplicated(["station", "ts", "p"], keep="last").to_numpy()
        chunk.rejected["duplicate"] += int(dup.sum())
        chunk.rejected = +chunk.rejected
        sub = sub[~dup]
        wide = sub.pivot(index=["station", "ts"], columns="p", values="v").reset_index()
        st = wide["station"].to_numpy(object)
        st = np.where(st == UNKNOWN, None, st)
        chunk.station = st
        chunk.city = np.array([cat.stations[s].city if s else None for s in st], object)
        chunk.ts = wide["ts"].to_numpy("int64")
        names = [c for c in wide.columns if c not in ("station", "ts")]
        chunk.values = {p: wide[p].to_numpy("float64") for p in names}
        if flags is not None:
            fw = sub.pivot(index=["station", "ts"], columns="p", values="f").reset_index()
            chunk.flags = {p: fw[p].to_numpy(object) for p in names}
        yield _finish(chunk)


PARSERS = {"prsa": parse_prsa, "cnemc": parse_cnemc, "long": parse_long}
