"""AQI: current and history per station and city, with category, colour, primary pollutant
and the HJ 633 edition used (from the derived ``aqi_hourly`` / ``aqi_daily`` series)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated, Literal

import pandas as pd
from fastapi import APIRouter, HTTPException, Query, Request, Response

from core.aqi import category_of

from ..deps import Cat, Reader, StoreDep
from .series import _range, json_response, rows_json

router = APIRouter(tags=["aqi"])
DEFAULT_AGE_H, MAX_AGE_H = 72, 720   # /aqi/current looks this far back (the AQI job: 2 days)
COLS = ["time", "station", "scope", "aqi", "level", "category", "primary", "exceeding",
        "status", "edition"]


def _now(request: Request) -> datetime:
    return datetime.fromtimestamp(request.app.state.clock(), timezone.utc)


def _decorate(df: pd.DataFrame) -> pd.DataFrame:
    df = df[[c for c in COLS if c in df.columns]].copy()
    values = df["aqi"].tolist() if "aqi" in df else [None] * len(df)
    # one category lookup per distinct AQI: a city-year is 365 rows
    cats = {v: category_of(int(v)) for v in set(values) if pd.notna(v)}
    for col, attr in (("colour", "colour"), ("category_zh", "zh"), ("category_en", "en")):
        df[col] = pd.Series([getattr(cats[v], attr) if pd.notna(v) and cats[v] is not None
                             else None for v in values], index=df.index, dtype="object")
    return df.rename(columns={"station": "id"})


@router.get("/aqi/current")
def aqi_current(request: Request, store: StoreDep, _: Reader,
                scope: Literal["station", "city"] = "station",
                max_age_h: Annotated[int, Query(ge=1, le=MAX_AGE_H)] = DEFAULT_AGE_H
                ) -> list[dict]:
    """The newest available hourly AQI of every station or city (its newest hour with any
    indicator graded), however far the derived series lags the clock (up to ``max_age_h``
    hours back): ``time`` is its hour (start, CST), ``age_s`` / ``age_h`` the server's clock
    minus ``time``."""
    now = _now(request)
    df = store.latest_frame("aqi_hourly", now - timedelta(hours=max_age_h),
                            now + timedelta(hours=1), {"scope": [scope]}, by="station",
                            present="aqi_lower_bound")  # an hour with any graded indicator
    if df.empty or "aqi" not in df:
        return []
    out = _decorate(df)
    age = (pd.Timestamp(now) - df["time"]).dt.total_seconds().clip(lower=0)
    out["age_s"] = age.round().astype("int64")
    out["age_h"] = (age / 3600).round(2)
    return Response(rows_json(out.sort_values("id")), media_type="application/json")


@router.get("/aqi/history")
def aqi_history(cat: Cat, store: StoreDep, _: Reader, id: str,
                scope: Literal["station", "city"] = "station",
                period: Literal["hourly", "daily"] = "hourly",
                start: str | None = None, end: str | None = None) -> dict:
    """Hourly or daily AQI of one station or city over a range (default: last 7 days)."""
    known = cat.stations if scope == "station" else cat.cities
    if id not in known:
        raise HTTPException(404, f"unknown {scope} {id!r}")
    t0, t1 = _range(start, end)
    df = store.read_frame(f"aqi_{period}", t0, t1, {"scope": [scope], "station": [id]})
    rows = rows_json(_decorate(df)) if not df.empty and "aqi" in df else "[]"
    return json_response({"id": id, "scope": scope, "period": period,
                          "start": t0.isoformat(), "end": t1.isoformat()}, rows)
