"""The HTTP API (FastAPI). Reads through the same store port every service uses."""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from core.catalogue import Catalogue
from core.store import QueryError, QueryTooLarge, Store, StoreError, StoreUnavailable
from core.wire import CST


def create_app(store: Store, catalogue: Catalogue) -> FastAPI:
    app = FastAPI(title="Fenwei API", version="0.1.0",
                  description="Stations, series and warnings for the Guanzhong and Fen-Wei "
                              "Plains. Times are ISO 8601 with offsets; display in CST.")
    app.state.store, app.state.catalogue = store, catalogue
    app.add_exception_handler(StoreError, _store_error)
    app.get("/health", tags=["ops"])(_health)
    app.get("/stations", tags=["catalogue"])(list_stations)
    app.get("/stations/{station_id}", tags=["catalogue"])(get_station)
    app.get("/stations/{station_id}/series", tags=["series"])(station_series)
    return app


def _store_error(request: Request, exc: StoreError) -> JSONResponse:
    if isinstance(exc, QueryTooLarge):
        return JSONResponse({"detail": str(exc), "reason": "query_too_large"}, 413)
    if isinstance(exc, QueryError):
        return JSONResponse({"detail": str(exc), "reason": "bad_query"}, 400)
    if isinstance(exc, StoreUnavailable):
        return JSONResponse({"detail": "store unavailable", "reason": "store_down"}, 503)
    return JSONResponse({"detail": "store error", "reason": "store_error"}, 500)


def _cat(request: Request) -> Catalogue:
    return request.app.state.catalogue


def _store(request: Request) -> Store:
    return request.app.state.store


Cat = Annotated[Catalogue, Depends(_cat)]
StoreDep = Annotated[Store, Depends(_store)]


def _health(store: StoreDep) -> dict:
    return {"status": "ok" if store.ping() else "degraded"}


def list_stations(cat: Cat, kind: Literal["air", "hydro"] | None = None,
                  city: str | None = None) -> list[dict]:
    """The catalogue's stations, optionally filtered by kind and city."""
    return [s.model_dump() for s in cat.stations.values()
            if (kind is None or s.kind == kind) and (city is None or s.city == city)]


def get_station(station_id: str, cat: Cat) -> dict:
    station = cat.stations.get(station_id)
    if station is None:
        raise HTTPException(404, f"unknown station {station_id!r}")
    return station.model_dump()


def _parse_time(value: str | None, default: datetime, name: str) -> datetime:
    if value is None:
        return default
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(422, f"{name} is not an ISO 8601 date-time") from None
    return ts if ts.tzinfo else ts.replace(tzinfo=CST)


def _records(df) -> list[dict]:
    out = []
    for row in df.to_dict("records"):
        rec = {}
        for k, v in row.items():
            if k == "time":
                v = v.to_pydatetime().astimezone(CST).isoformat()
            elif isinstance(v, float) and math.isnan(v):
                v = None
            rec[k] = v
        out.append(rec)
    return out


def station_series(station_id: str, cat: Cat, store: StoreDep,
                   params: Annotated[str | None, Query(description="comma-separated")] = None,
                   start: str | None = None, end: str | None = None,
                   every: Literal["raw", "1h", "1d"] = "raw",
                   limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000) -> dict:
    """A station's readings with flags (raw) or aggregated by 1 h / 1 d (CST days)."""
    station = cat.stations.get(station_id)
    if station is None:
        raise HTTPException(404, f"unknown station {station_id!r}")
    names = params.split(",") if params else [p.name for p in cat.params_of(station.kind)]
    now = datetime.now(timezone.utc)
    t1 = _parse_time(end, now + timedelta(hours=1), "end")
    t0 = _parse_time(start, t1 - timedelta(days=7), "start")
    if every == "raw":
        df = store.raw(station.kind, [station_id], names, t0, t1, limit=limit)
    else:
        df = store.aggregate(station.kind, names, t0, t1, every=every, by="station",
                             keys=[station_id])
    return {"station": station_id, "kind": station.kind, "every": every,
            "start": t0.isoformat(), "end": t1.isoformat(), "rows": _records(df)}
