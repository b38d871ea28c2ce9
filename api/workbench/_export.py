"""Export a selection (stations, cities or river sections; parameters; a range; raw, hourly,
daily or monthly) as CSV or Excel ``.xlsx`` with a header stating source, units, flags and
time zone.

Columns: ``time`` (start of the reading or bucket, China Standard Time), ``station``,
``city`` and per parameter:

* raw: ``period``, ``<p>`` and ``<p>_flag`` as stored (HJ 212 letters);
* hourly: ``<p>`` and ``<p>_flag`` (the hour's value, see ``_hourly``);
* daily / monthly: ``<p>_mean``, ``<p>_min``, ``<p>_max`` over valid values only,
  ``<p>_count`` (valid hours in the day, valid days in the month) and ``<p>_valid`` (the
  count meets the validity rule: 20 hours a day, 27 days a month, 25 in February).
"""
from __future__ import annotations

import os
import tempfile
from datetime import datetime
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

from core.catalogue import Catalogue
from core.flags import FLAGS, VALID_FLAGS
from core.store import Store
from core.timeutil import CST

from ._hourly import hourly, read_raw
from ._validity import ValidityRules

AGGREGATIONS = ("raw", "hourly", "daily", "monthly")
CHUNK = 5_000


class SelectionError(ValueError):
    """The selection names unknown stations, cities, sections or parameters."""


def resolve_stations(cat: Catalogue, kind: str, stations: Sequence[str] = (),
                     cities: Sequence[str] = (), sections: Sequence[str] = ()) -> list[str]:
    """The station ids of a selection (a city: its stations of ``kind``; a river section:
    its gauge), in the order given, without repeats."""
    out: list[str] = []
    for s in stations:
        if s not in cat.stations or cat.stations[s].kind != kind:
            raise SelectionError(f"unknown {kind} station {s!r}")
        out.append(s)
    for c in cities:
        if c not in cat.cities:
            raise SelectionError(f"unknown city {c!r}")
        out += [s.id for s in cat.stations_of(c, kind)]
    for sec in sections:
        if sec not in cat.sections:
            raise SelectionError(f"unknown river section {sec!r}")
        if kind != "hydro":
            raise SelectionError("river sections are hydro: use kind=hydro")
        out.append(cat.sections[sec].station)
    return list(dict.fromkeys(out))


def check_params(cat: Catalogue, kind: str, params: Sequence[str]) -> list[str]:
    names = list(params) or [p.name for p in cat.params_of(kind)]
    for p in names:
        if p not in cat.parameters or cat.parameters[p].kind != kind:
            raise SelectionError(f"unknown {kind} parameter {p!r}")
    return list(dict.fromkeys(names))


def export_frame(store: Store, kind: str, stations: Sequence[str], params: Sequence[str],
                 start: datetime, end: datetime, aggregation: str,
                 rules: ValidityRules = ValidityRules()) -> pd.DataFrame:
    if aggregation not in AGGREGATIONS:
        raise SelectionError(f"aggregation must be one of {', '.join(AGGREGATIONS)}")
    raw = read_raw(store, kind, stations, params, start, end)
    if aggregation == "raw":
        return raw
    h = hourly(raw, params)
    if aggregation == "hourly":
        return h[["time", "station", "city"] + [c for p in params for c in (p, f"{p}_flag")]]
    daily = _daily(h, params, rules)
    return daily if aggregation == "daily" else _monthly(daily, params, rules)


def _daily(h: pd.DataFrame, params, rules: ValidityRules) -> pd.DataFrame:
    h = h.copy()
    h["day"] = h["time"].dt.tz_convert(CST).dt.normalize()
    g = h.groupby(["station", "day"], sort=True)
    out = g["city"].last().reset_index()
    for p in params:
        v = h[p].where(h[f"{p}_valid"].astype(bool))
        s = v.groupby([h["station"], h["day"]], sort=True).agg(["mean", "min", "max", "count"])
        out[f"{p}_mean"], out[f"{p}_min"] = s["mean"].to_numpy(), s["min"].to_numpy()
        out[f"{p}_max"], out[f"{p}_count"] = s["max"].to_numpy(), s["count"].to_numpy()
        out[f"{p}_valid"] = out[f"{p}_count"] >= rules.day_min_hours
    out.insert(0, "time", out.pop("day").dt.tz_convert("UTC"))
    return out


def _monthly(d: pd.DataFrame, params, rules: ValidityRules) -> pd.DataFrame:
    d = d.copy()
    local = d["time"].dt.tz_convert(CST)
    d["month"] = local.dt.tz_localize(None).dt.to_period("M")
    g = d.groupby(["station", "month"], sort=True)
    out = g["city"].last().reset_index()
    for p in params:
        v = d[f"{p}_mean"].where(d[f"{p}_valid"])   # a month is a mean of valid days
        s = v.groupby([d["station"], d["month"]], sort=True).agg(["mean", "min", "max", "count"])
        out[f"{p}_mean"], out[f"{p}_min"] = s["mean"].to_numpy(), s["min"].to_numpy()
        out[f"{p}_max"], out[f"{p}_count"] = s["max"].to_numpy(), s["count"].to_numpy()
        need = out["month"].map(lambda m: rules.month_min(m.month))
        out[f"{p}_valid"] = out[f"{p}_count"] >= need
    start = out.pop("month").map(lambda m: m.to_timestamp().tz_localize(CST))
    out.insert(0, "time", pd.to_datetime(start, utc=True) if len(start) else
               pd.Series(dtype="datetime64[ns, UTC]"))
    return out


def header_lines(cat: Catalogue, kind: str, stations: Sequence[str], params: Sequence[str],
                 start: datetime, end: datetime, aggregation: str,
                 rules: ValidityRules = ValidityRules()) -> list[str]:
    """The header: one ``key: text`` line each (CSV prefixes ``# ``)."""
    names = "; ".join(f"{s} {cat.stations[s].name_zh} ({cat.stations[s].city})"
                      for s in stations)
    units = "; ".join(f"{p} {cat.parameters[p].name_zh} [{cat.parameters[p].unit}]"
                      for p in params)
    flags = "; ".join(f"{k} {v}" for k, v in FLAGS.items())
    valid = ", ".join(sorted(VALID_FLAGS))
    what = {"raw": "readings as stored, each with its HJ 212 flag",
            "hourly": "hourly values (a PT1H reading, else >= 45 min of valid sub-hourly "
                      "readings) with their flags",
            "daily": f"daily mean/min/max of valid hours; valid when >= {rules.day_min_hours} "
                     "valid hours",
            "monthly": f"monthly mean/min/max of valid daily means; valid when >= "
                       f"{rules.month_min_days} valid days ({rules.february_min_days} in "
                       "February)"}[aggregation]
    return [f"source: Fenwei monitoring store, {kind} stations: {names}",
            f"range: {start.astimezone(CST).isoformat()} to {end.astimezone(CST).isoformat()}",
            f"aggregation: {aggregation}: {what}",
            f"units: {units}",
            f"flags (HJ 212-2017): {flags}; valid: {valid} (T counts as a lower bound); "
            f"the others never count; empty = no value",
            "time zone: China Standard Time, UTC+08:00; times are the start of the reading or "
            "bucket; days and months are CST",
            f"validity rules: {rules.source}"]


def _cst_text(col: pd.Series) -> pd.Series:
    return col.dt.tz_convert(CST).map(lambda t: t.isoformat())


def csv_chunks(header: Sequence[str], df: pd.DataFrame) -> Iterator[str]:
    """The CSV text a chunk at a time: ``# `` header lines, the column names, then rows."""
    yield "".join(f"# {line}\n" for line in header)
    yield df.iloc[:0].to_csv(index=False, lineterminator="\n")
    for i in range(0, len(df), CHUNK):
        part = df.iloc[i:i + CHUNK].copy()
        part["time"] = _cst_text(part["time"])
        yield part.to_csv(index=False, header=False, lineterminator="\n")


def write_xlsx(header: Sequence[str], df: pd.DataFrame, path: str) -> None:
    """A one-sheet workbook: the header lines, a blank row, the column names, the rows
    (times as Excel date-times in CST, formatted with seconds). Written row by row in
    xlsxwriter's constant-memory mode."""
    import xlsxwriter   # the dependency is needed for .xlsx only
    wb = xlsxwriter.Workbook(path, {"constant_memory": True, "nan_inf_to_errors": True})
    try:
        ws = wb.add_worksheet("data")
        when = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        bold = wb.add_format({"bold": True})
        for r, line in enumerate(header):
            ws.write_string(r, 0, line)
        first = len(header) + 1
        cols = list(df.columns)
        for c, name in enumerate(cols):
            ws.write_string(first, c, "time (CST)" if name == "time" else name, bold)
        ws.set_column(0, 0, 20)
        _xlsx_rows(ws, df, cols, first + 1, when)
    finally:
        wb.close()


def _xlsx_rows(ws, df, cols, row0, when) -> None:
    for i in range(0, len(df), CHUNK):
        part = df.iloc[i:i + CHUNK]
        times = part["time"].dt.tz_convert(CST).dt.tz_localize(None).dt.to_pydatetime()
        columns = [part[c].to_numpy(dtype=object) for c in cols[1:]]
        for j, t in enumerate(times):
            r = row0 + i + j
            ws.write_datetime(r, 0, t, when)
            for c, col in enumerate(columns, start=1):
                v = col[j]
                if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
                    continue
                if isinstance(v, (bool, np.bool_)):
                    ws.write_boolean(r, c, bool(v))
                elif isinstance(v, (int, float, np.integer, np.floating)):
                    ws.write_number(r, c, float(v))
                else:
                    ws.write_string(r, c, str(v))


def xlsx_tempfile(header: Sequence[str], df: pd.DataFrame) -> str:
    """The workbook written to a temporary file; the caller deletes it."""
    fd, path = tempfile.mkstemp(suffix=".xlsx", prefix="fenwei-export-")
    os.close(fd)
    try:
        write_xlsx(header, df, path)
    except Exception:
        os.unlink(path)
        raise
    return path
