"""Historical series: raw readings with flags, or 1 h / 1 d aggregates; JSON or CSV.

One request answers at most ``MAX_PAGE`` rows (``limit``), streamed in chunks. A longer
result is paged by time: the answer covers ``[start, end)`` with ``end`` the page's own end,
and ``next`` (JSON field and ``Link: <...>; rel="next"`` header) is the same request from
there; no ``next`` means the range is done. A page never splits an aggregate bucket.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Annotated, Literal

import anyio
import numpy as np
import pandas as pd
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response, StreamingResponse

from core.store import QueryTooLarge
from core.timeutil import CST

from ..deps import Cat, Reader, StoreDep

router = APIRouter(tags=["series"])
MAX_SPAN = timedelta(days=3660)
MAX_PAGE = 100_000      # rows per request: ~55 MB of JSON, streamed; more are paged
CHUNK = 5_000           # rows encoded at a time


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


def rows_json(df: pd.DataFrame) -> str:
    """The rows of ``df`` as a JSON array of objects, equal to ``json.dumps(records(df))``
    but built a column at a time: a station-year (8,760 rows x 16 columns) takes ~20 ms
    where ``records`` and ``json.dumps`` took ~100 ms, all of it holding the GIL that the
    server's other requests wait on."""
    if df.empty:
        return "[]"
    cols, keys = [], []
    for name in df.columns:
        cols.append(_json_column(df[name], is_time=name == "time"))
        keys.append(json.dumps(str(name), ensure_ascii=False).replace("%", "%%") + ":%s")
    row = "{" + ",".join(keys) + "}"
    return "[" + ",".join([row % r for r in zip(*cols)]) + "]"


def _json_column(col: pd.Series, is_time: bool) -> list[str]:
    if is_time and isinstance(col.dtype, pd.DatetimeTZDtype):
        utc = col.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        cst = utc.astype("datetime64[s]") + np.timedelta64(8, "h")
        text = ['"%s+08:00"' % t for t in np.datetime_as_string(cst, unit="s").tolist()]
        return _nulls(text, col.isna().to_numpy())
    if pd.api.types.is_bool_dtype(col.dtype) and not col.hasnans:
        return ["true" if v else "false" for v in col.tolist()]
    if pd.api.types.is_integer_dtype(col.dtype) and not col.hasnans:
        return list(map(str, col.tolist()))
    if pd.api.types.is_float_dtype(col.dtype):
        return _floats(col.to_numpy(dtype="float64", na_value=np.nan))
    if isinstance(col.dtype, pd.StringDtype) or \
            pd.api.types.infer_dtype(col, skipna=True) in ("string", "empty"):
        return _strings(col)
    return _objects(col.tolist())


def _floats(values: np.ndarray) -> list[str]:
    """``repr`` of each value (NaN and infinities null). Readings repeat values (a station's
    flags, whole µg/m³): when under half the values are distinct, each distinct one is
    formatted once (judged on the first 64); -0.0 (equal to 0.0 for the hash) keeps the
    direct path."""
    finite = np.isfinite(values)
    if len(values) > 64 and len(np.unique(values[:64])) < 32 and \
            not (np.signbit(values) & (values == 0)).any():
        codes, uniques = pd.factorize(np.where(finite, values, np.nan), use_na_sentinel=True)
        if len(uniques) * 2 < len(values):
            text = np.array([*map(repr, uniques.tolist()), "null"], dtype=object)
            return text[codes].tolist()
    return _nulls(list(map(repr, values.tolist())), ~finite)


def _strings(col: pd.Series) -> list[str]:
    """A text column (missing values null): each distinct string encoded once."""
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    text = np.array([*(json.dumps(str(u), ensure_ascii=False) for u in uniques), "null"],
                    dtype=object)
    return text[codes].tolist()


def _nulls(text: list[str], missing: np.ndarray) -> list[str]:
    for i in np.flatnonzero(missing).tolist():
        text[i] = "null"
    return text


def _objects(values: list) -> list[str]:
    memo: dict[str, str] = {}  # by str only: True == 1 == 1.0 would share an entry
    out = []
    for v in values:
        if type(v) is str:
            enc = memo.get(v)
            if enc is None:
                enc = memo[v] = json.dumps(v, ensure_ascii=False)
        else:
            enc = _one(v)
        out.append(enc)
    return out


def _one(v) -> str:
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and not np.isfinite(v)):
        return "null"
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, datetime):
        return json.dumps(v.isoformat())
    return json.dumps(v, ensure_ascii=False)


def json_response(head: dict, rows: str, tail: dict | None = None) -> Response:
    """``{**head, "rows": <rows>, **tail}`` from an already encoded ``rows`` array."""
    opening, closing = _envelope(head, tail)
    return Response(opening + rows[1:-1] + closing, media_type="application/json")


def _envelope(head: dict, tail: dict | None) -> tuple[str, str]:
    """The text before and after the rows of ``{**head, "rows": [...], **tail}``."""
    dumps = json.dumps
    opening = dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1]
    opening += ',"rows":[' if head else '"rows":['
    closing = "]" + "".join("," + dumps(k, ensure_ascii=False) + ":" +
                            dumps(v, ensure_ascii=False) for k, v in (tail or {}).items())
    return opening, closing + "}"


def _json_stream(head: dict, df: pd.DataFrame, tail: dict, headers: dict) -> StreamingResponse:
    """The answer streamed ``CHUNK`` rows at a time, each chunk encoded as it is sent.

    The first chunk is encoded here, in the handler's worker thread, and goes out with the
    head as one part (a 7-day or 30-day answer is that one part); each further chunk is
    encoded in a worker thread. The parts come from an async generator: a sync iterator
    costs a worker-thread hop per part (head, "[", each chunk, "]", tail), and under 50
    concurrent readers those hops queued behind the handlers for the 40 worker threads."""
    opening, closing = _envelope(head, tail)
    first = rows_json(df.iloc[:CHUNK])

    async def parts():
        text = opening + first[1:-1]
        for i in range(CHUNK, len(df), CHUNK):
            yield text
            text = "," + (await anyio.to_thread.run_sync(rows_json, df.iloc[i:i + CHUNK]))[1:-1]
        yield text + closing
    return StreamingResponse(parts(), media_type="application/json", headers=headers)


def _csv(df: pd.DataFrame, name: str, headers: dict | None = None) -> StreamingResponse:
    """The frame as CSV in 5,000-row chunks (each converted as it is sent); no rows is the
    header line alone."""
    def chunks():
        yield df.iloc[:0].to_csv(index=False)
        for i in range(0, len(df), CHUNK):
            part = df.iloc[i:i + CHUNK].copy()
            if "time" in part:
                part["time"] = part["time"].dt.tz_convert(CST).map(lambda t: t.isoformat())
            yield part.to_csv(index=False, header=False)
    return StreamingResponse(chunks(), media_type="text/csv", headers={
        **(headers or {}), "Content-Disposition": f'attachment; filename="{name}.csv"'})


def _split(text: str | None) -> list[str]:
    return [t for t in (text or "").split(",") if t]


@router.get("/series")
def series(request: Request, cat: Cat, store: StoreDep, _: Reader,
           kind: Literal["air", "hydro"] = "air",
           stations: Annotated[str | None, Query(description="comma-separated ids")] = None,
           cities: Annotated[str | None, Query(description="comma-separated slugs")] = None,
           params: Annotated[str | None, Query(description="comma-separated")] = None,
           start: str | None = None, end: str | None = None,
           every: Literal["raw", "1h", "1d"] = "raw",
           by: Literal["station", "city"] = "station",
           format: Literal["json", "csv"] = "json",
           limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = MAX_PAGE):
    """Readings (``every=raw``, with flags) or aggregates by station or city.

    Times are ISO 8601; without an offset they are China Standard Time. 1 d buckets are CST
    days. At most ``limit`` rows per answer: a longer range is paged (``next``).
    """
    return _series(request, cat, store, kind=kind, stations=stations, cities=cities, params=params,
                   start=start, end=end, every=every, by=by, format=format, limit=limit)


def _series(request, cat, store, *, kind, stations, cities, params, start, end, every, by,
            format, limit, extra: dict | None = None):
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
        df, upto = _raw_page(store, kind, ids, names, t0, t1, limit)
    else:
        keys = (ids if by == "station" else slugs) or None
        n_keys = len(keys) if keys else _all_keys(cat, kind, by)
        upto = _bucket_page_end(t0, t1, every, max(1, limit // max(1, n_keys)))
        df = store.aggregate(kind, names, t0, upto, every=every, by=by, keys=keys)
    nxt = str(request.url.include_query_params(start=upto.isoformat(), end=t1.isoformat())) \
        if upto < t1 else None
    headers = {"Link": f'<{nxt}>; rel="next"'} if nxt else {}
    if format == "csv":
        return _csv(df, f"{kind}-{every}", headers)
    # encoded here, a chunk at a time: FastAPI's jsonable_encoder takes ~0.5 s a station-year
    return _json_stream({"kind": kind, "every": every, "by": by, "start": t0.isoformat(),
                         "end": upto.isoformat(), "count": len(df)}, df,
                        {**(extra or {}), "next": nxt}, headers)


def _raw_page(store, kind, ids, names, t0, t1, limit) -> tuple[pd.DataFrame, datetime]:
    """Raw rows of ``[t0, upto)`` with ``upto`` as late as fits ``limit`` rows (the store
    refuses a larger answer, so the window is halved until it fits)."""
    upto = t1
    while True:
        try:
            return store.raw(kind, ids, names, t0, upto, limit=limit), upto
        except QueryTooLarge:
            half = (upto - t0) / 2
            if half < timedelta(seconds=1):
                raise
            upto = t0 + half


def _bucket_page_end(t0: datetime, t1: datetime, every: str, buckets: int) -> datetime:
    """The end of a page of ``buckets`` buckets from ``t0``, on a bucket boundary (UTC hours;
    CST days) so that no bucket is split between pages."""
    width = timedelta(hours=1) if every == "1h" else timedelta(days=1)
    end = t0 + buckets * width
    if end >= t1:
        return t1
    if every == "1h":
        return max(end.replace(minute=0, second=0, microsecond=0), t0 + width)
    day = end.astimezone(CST).replace(hour=0, minute=0, second=0, microsecond=0)
    return day if day > t0 else end


def _all_keys(cat, kind: str, by: str) -> int:
    stations = [s for s in cat.stations.values() if s.kind == kind]
    return len(stations) if by == "station" else len({s.city for s in stations})


@router.get("/stations/{station_id}/series")
def station_series(station_id: str, request: Request, cat: Cat, store: StoreDep, p: Reader,
                   params: Annotated[str | None, Query(description="comma-separated")] = None,
                   start: str | None = None, end: str | None = None,
                   every: Literal["raw", "1h", "1d"] = "raw",
                   format: Literal["json", "csv"] = "json",
                   limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = MAX_PAGE):
    """One station's readings with flags (raw) or aggregated by 1 h / 1 d (CST days); paged
    as ``/series``."""
    station = cat.stations.get(station_id)
    if station is None:
        raise HTTPException(404, f"unknown station {station_id!r}")
    return _series(request, cat, store, kind=station.kind, stations=station_id, cities=None,
                   params=params, start=start, end=end, every=every, by="station",
                   format=format, limit=limit, extra={"station": station_id})
