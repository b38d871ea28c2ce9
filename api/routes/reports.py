"""Reports for inspectors: exports of a selection (CSV, Excel) and completeness
(有效数据率) against the national validity rules. See docs/services/workbench.md."""
from __future__ import annotations

import os
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse, StreamingResponse
from starlette.background import BackgroundTask

from .. import workbench as wb
from ..deps import Cat, Reader, StoreDep
from .series import _range, _split

router = APIRouter(tags=["reports"])
Ids = Annotated[str | None, Query(description="comma-separated")]


def _selection(cat, kind, stations, cities, sections, params):
    try:
        ids = wb.resolve_stations(cat, kind, _split(stations), _split(cities), _split(sections))
        names = wb.check_params(cat, kind, _split(params))
    except wb.SelectionError as exc:
        raise HTTPException(404 if "unknown" in str(exc) else 422, str(exc)) from None
    if not ids:
        raise HTTPException(422, "select stations, cities or river sections")
    return ids, names


@router.get("/export")
def export(cat: Cat, store: StoreDep, _: Reader,
           kind: Literal["air", "hydro"] = "air", stations: Ids = None, cities: Ids = None,
           sections: Ids = None, params: Ids = None, start: str | None = None,
           end: str | None = None,
           aggregation: Literal["raw", "hourly", "daily", "monthly"] = "hourly",
           format: Literal["csv", "xlsx"] = "csv"):
    """A selection (stations, cities' stations or river sections' gauges) as CSV (streamed)
    or Excel ``.xlsx``: a header stating source, range, aggregation, units, flags and time
    zone, then the rows with their flags (raw, hourly) or valid-only statistics with the
    count and validity of each bucket (daily, monthly; CST days and months)."""
    t0, t1 = _range(start, end)
    if sections and kind != "hydro":
        kind = "hydro"
    ids, names = _selection(cat, kind, stations, cities, sections, params)
    df = wb.export_frame(store, kind, ids, names, t0, t1, aggregation)
    header = wb.header_lines(cat, kind, ids, names, t0, t1, aggregation)
    name = f"fenwei-{kind}-{aggregation}-{t0.strftime('%Y%m%d')}"
    if format == "csv":
        return StreamingResponse(wb.csv_chunks(header, df), media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition":
                                          f'attachment; filename="{name}.csv"'})
    try:
        path = wb.xlsx_tempfile(header, df)
    except ImportError:
        raise HTTPException(501, "Excel export needs the xlsxwriter package") from None
    return FileResponse(path, filename=f"{name}.xlsx", background=BackgroundTask(os.unlink, path),
                        media_type="application/vnd.openxmlformats-officedocument."
                                   "spreadsheetml.sheet")


@router.get("/reports/completeness")
def completeness(cat: Cat, store: StoreDep, _: Reader,
                 kind: Literal["air", "hydro"] = "air", stations: Ids = None,
                 cities: Ids = None, sections: Ids = None, params: Ids = None,
                 start: str | None = None, end: str | None = None) -> dict:
    """Per station and parameter the share of valid hours, days (>= 20 valid hours) and
    months (>= 27 valid days, 25 in February) over whole CST days covering the range, the
    gaps with their causes (site_offline, pipeline_down, maintenance, calibration,
    invalid_flag); per city and month the same sums."""
    t0, t1 = _range(start, end)
    if sections and kind != "hydro":
        kind = "hydro"
    ids, names = _selection(cat, kind, stations, cities, sections, params)
    return wb.completeness(store, cat, ids, names, t0, t1)
