"""Historical series: raw readings with flags, or 1 h / 1 d aggregates; JSON or CSV."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated, Literal

import pandas as pd
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse, StreamingResponse

from core.timeutil import CST

from ..deps import Cat, Reader, StoreDep

router = APIRouter(tags=["series"])
MAX_SPAN = timedelta(days=3660)


def _time(value: str | None, default: datetime, name: str) -> datetime:
    if value is None:
        return default
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(422, f"{name} is not an ISO 8601 date-time") from None
    if not 1970 <= ts.year <= 2200:  # arithmetic near year 1 or 9999 would overflow
        raise HTTPException(422, f"{name} must be between the years 1970 and 2200")
    return ts if ts.tzinfo else ts.replace(tzinfo=CST)


def _range(start: str | None, end: str | None) -> tuple[datetime, datetime]:
    t1 = _time(end, datetime.now(timezone.utc) + timedelta(hours=1), "end")
    t0 = _time(start, t1 - timedelta(days=7), "start")
    if t1 <= t0:
        raise HTTPException(422, "end must be after start")
    if t1 - t0 > MAX_SPAN:
        raise HTTPException(422, "time range longer than 10 years")
    return t0, t1


def records(df: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts: times as CST ISO strings, NaN as None (vectorised: a
    station-year is 8,760 rows)."""
    if df.empty:
        return []
    df = df.copy()
    if "time" in df:
        df["time"] = df["time"].dt.tz_convert(CST).dt.strftime("%Y-%m-%dT%H:%M:%S+08:00")
    return df.astype(object).where(df.notna(), None).to_dict("records")


def _csv(df: pd.DataFrame, name: str) -> StreamingResponse:
    if df.empty:
        return []
    df = df.copy()
    if "time" in df:
        df["time"] = df["time"].dt.tz_convert(CST).map(lambda t: t.isoformat())

    def chunks():
        yield df.iloc[:0].to_csv(index=False)
        for i in range(0, len(df), 5000):
            yield df.iloc[i:i + 5000].to_csv(index=False, header=False)
    return StreamingResponse(chunks(), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


def _split(text: str | None) -> list[str]:
    return [t for t in (text or "").split(",") if t]


@router.get("/series")
def series(cat: Cat, store: StoreDep, _: Reader,
           kind: Literal["air", "hydro"] = "air",
           stations: Annotated[str | None, Query(description="comma-separated ids")] = None,
           cities: Annotated[str | None, Query(description="comma-separated slugs")] = None,
           params: Annotated[str | None, Query(description="comma-separated")] = None,
           start: str | None = None, end: str | None = None,
           every: Literal["raw", "1h", "1d"] = "raw",
           by: Literal["station", "city"] = "station",
           format: Literal["json", "csv"] = "json",
           limit: Annotated[int, Query(ge=1, le=1_000_000)] = 100_000):
    """Readings (``every=raw``, with flags) or aggregates by station or city.

    Times are ISO 8601; without an offset they are China Standard Time. 1 d buckets are CST
    days. Larger results than the store's bound are refused with 413.
    """
    return _series(cat, store, kind=kind, stations=stations, cities=cities, params=params,
                   start=start, end=end, every=every, by=by, format=format, limit=limit)


def _series(cat, store, *, kind, stations, cities, params, start, end, every, by, format,
            limit, extra: dict | None = None):
    t0, t1 = _range(start, end)
    names = _split(params) or [p.name for p in cat.params_of(kind)]
    ids, slugs = _split(stations), _split(cities)
    for s in ids:
        if s not in cat.stations or cat.stations[s].kind != kind:
            raise HTTPException(404, f"unknown {kind} station {s!r}")
    for c in slugs:
        if c not in cat.cities:
            raise HTTPException(404, f"unknown city {c!r}")
    if every == "raw":
        ids = ids or [s.id for c in slugs for s in cat.stations_of(c, kind)] or \
            [s.id for s in cat.stations.values() if s.kind == kind]
        df = store.raw(kind, ids, names, t0, t1, limit=limit)
    else:
        keys = (ids if by == "station" else slugs) or None
        df = store.aggregate(kind, names, t0, t1, every=every, by=by, keys=keys)
    if format == "csv":
        return _csv(df, f"{kind}-{every}")
    # JSONResponse directly: FastAPI's jsonable_encoder takes ~0.5 s on a station-year
    return JSONResponse({"kind": kind, "every": every, "by": by, "start": t0.isoformat(),
                         "end": t1.isoformat(), "count": len(df), "rows": records(df),
                         **(extra or {})})


@router.get("/stations/{station_id}/series")
def station_series(station_id: str, cat: Cat, store: StoreDep, p: Reader,
                   params: Annotated[str | None, Query(description="comma-separated")] = None,
                   start: str | None = None, end: str | None = None,
                   every: Literal["raw", "1h", "1d"] = "raw",
                   format: Literal["json", "csv"] = "json",
                   limit: Annotated[int, Query(ge=1, le=1_000_000)] = 100_000):
    """One station's readings with flags (raw) or aggregated by 1 h / 1 d (CST days)."""
    station = cat.stations.get(station_id)
    if station is None:
        raise HTTPException(404, f"unknown station {station_id!r}")
    return _series(cat, store, kind=station.kind, stations=station_id, cities=None,
                   params=params, start=start, end=end, every=every, by="station",
                   format=format, limit=limit, extra={"station": station_id})
