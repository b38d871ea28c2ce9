"""Forecasts: a city's air forecast (hourly quantiles per pollutant and rolling-24 h AQI),
a section's flow forecast (daily quantiles and P(below target)), and the list of runs.

Reads the stored measurements ``forecast_air``, ``forecast_flow`` and ``forecast_issue``
(docs/services/forecasting.md); "latest" is relative to the server's clock (simulated time in
the demo) and looks back at most 36 hours, as the warning rules do.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Literal

import pandas as pd
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from core.timeutil import CST
from forecasting import NoForecast, latest_city_forecast

from ..deps import Cat, Reader, StoreDep
from .series import _time

router = APIRouter(prefix="/forecasts", tags=["forecasts"])
MAX_AGE = timedelta(hours=36)
MAX_RUNS_SPAN = timedelta(days=366)
POLLUTANTS = ("pm25", "pm10", "so2", "no2", "co", "o3")
NOT_FOUND = {404: {"description": "unknown city/section, or no forecast issued"}}


class AirRow(BaseModel):
    time: str
    lead_h: int
    pollutant: str
    q10: float | None
    q50: float | None
    q90: float | None


class AqiRow(BaseModel):
    time: str
    window_start: str
    aqi_q10: float | None
    aqi_q50: float | None
    aqi_q90: float | None
    p_aqi_gt_200: float | None
    primary: str


class CityForecastOut(BaseModel):
    city: str
    issue: str
    issue_time: str
    model: str
    rows: list[AirRow]
    aqi: list[AqiRow]


class FlowRow(BaseModel):
    time: str
    day: str
    lead_d: int
    q10: float | None
    q50: float | None
    q90: float | None
    target: float | None
    p_below: float | None


class SectionForecastOut(BaseModel):
    section: str
    issue: str
    issue_time: str
    model: str
    rows: list[FlowRow]


class Run(BaseModel):
    kind: str
    issue: str
    issue_time: str
    model: str
    n_keys: int | None
    url: str | None


class RunsOut(BaseModel):
    start: str
    end: str
    runs: list[Run]


def _now(request: Request) -> datetime:
    return datetime.fromtimestamp(request.app.state.clock(), timezone.utc)


def _iso(ts) -> str:
    return pd.Timestamp(ts).tz_convert(CST).isoformat()


def _num(v) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _issue_time(value: str) -> datetime:
    ts = _time(value, None, "issue_time")
    return ts.astimezone(timezone.utc).replace(microsecond=0)


def _city_body(fc) -> dict:
    h = fc.hourly
    rows = [{"time": _iso(ts), "lead_h": int(lead), "pollutant": p,
             **{q: _num(h[f"{p}_{q}"].iat[i]) for q in ("q10", "q50", "q90")}}
            for p in POLLUTANTS for i, (ts, lead) in enumerate(zip(h["ts"], h["lead_h"]))]
    seq = fc.rolling_aqi(200)
    aqi = [{"time": _iso(r.ts), "window_start": _iso(r.window_start), "aqi_q10": _num(r.aqi_q10),
            "aqi_q50": _num(r.aqi_q50), "aqi_q90": _num(r.aqi_q90),
            "p_aqi_gt_200": _num(r.p_aqi_gt_200), "primary": r.primary}
           for r in seq.itertuples()]
    issue = pd.Timestamp(fc.issue_time)
    return {"city": fc.city, "issue": issue.strftime("%Y%m%dT%H%MZ"), "issue_time": _iso(issue),
            "model": fc.model_id, "rows": rows, "aqi": aqi}


def _city_forecast(store, cat, slug: str, at: datetime, max_age: timedelta) -> dict:
    if slug not in cat.cities:
        raise HTTPException(404, f"unknown city {slug!r}")
    try:
        return _city_body(latest_city_forecast(store, slug, at, max_age=max_age))
    except NoForecast as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/cities/{slug}/latest", response_model=CityForecastOut, responses=NOT_FOUND)
def city_latest(slug: str, request: Request, cat: Cat, store: StoreDep, _: Reader) -> dict:
    """The newest air forecast for a city issued in the last 36 h: hourly q10/q50/q90 per
    pollutant (µg/m³; CO mg/m³) and the AQI of the 24 h ending with each hour, with
    P(AQI > 200). 404 when there is none (never read that as clean air)."""
    return _city_forecast(store, cat, slug, _now(request), MAX_AGE)


@router.get("/cities/{slug}", response_model=CityForecastOut, responses=NOT_FOUND)
def city_run(slug: str, issue_time: str, cat: Cat, store: StoreDep, _: Reader) -> dict:
    """A past air forecast for a city: the run issued exactly at ``issue_time`` (ISO 8601,
    as listed by ``/forecasts/runs``)."""
    at = _issue_time(issue_time)
    body = _city_forecast(store, cat, slug, at, timedelta(seconds=1))
    if body["issue_time"] != _iso(at):
        raise HTTPException(404, f"no air forecast issued at {at.isoformat()}")
    return body


def _issue_rows(store, kind: str, t0: datetime, t1: datetime) -> pd.DataFrame:
    df = store.read_frame("forecast_issue", t0, t1, {"kind": [kind]})
    return df if not df.empty and "issue" in df else pd.DataFrame()


def _section_forecast(store, cat, section: str, at: datetime, max_age: timedelta) -> dict:
    if section not in cat.sections:
        raise HTTPException(404, f"unknown section {section!r}")
    runs = _issue_rows(store, "flow", at - max_age, at + timedelta(seconds=1))
    if runs.empty:
        raise HTTPException(404, f"no flow forecast issued in the {max_age} before "
                                 f"{at.isoformat()}")
    run = runs.sort_values("time").iloc[-1]
    issue = pd.Timestamp(run["time"]).to_pydatetime()
    df = store.read_frame("forecast_flow", issue - timedelta(days=1), issue + timedelta(days=9),
                          {"section": [section], "issue": [str(run["issue"])]})
    if df.empty or "q50" not in df:
        raise HTTPException(404, f"flow forecast {run['issue']} has no rows for {section}")
    rows = [{"time": _iso(r.time), "day": pd.Timestamp(r.time).tz_convert(CST).date().isoformat(),
             "lead_d": int(r.lead_d), "q10": _num(r.q10), "q50": _num(r.q50), "q90": _num(r.q90),
             "target": _num(r.target), "p_below": _num(r.p_below)}
            for r in df.sort_values("time").itertuples()]
    return {"section": section, "issue": str(run["issue"]), "issue_time": _iso(issue),
            "model": str(df["model_id"].iloc[0]), "rows": rows}


@router.get("/sections/{section}/latest", response_model=SectionForecastOut,
            responses=NOT_FOUND)
def section_latest(section: str, request: Request, cat: Cat, store: StoreDep,
                   _: Reader) -> dict:
    """The newest flow forecast for a control section (last 36 h): daily mean discharge
    q10/q50/q90 (m³/s) for the next days, the target and P(below target)."""
    return _section_forecast(store, cat, section, _now(request), MAX_AGE)


@router.get("/sections/{section}", response_model=SectionForecastOut, responses=NOT_FOUND)
def section_run(section: str, issue_time: str, cat: Cat, store: StoreDep, _: Reader) -> dict:
    """A past flow forecast for a section: the run issued exactly at ``issue_time``."""
    at = _issue_time(issue_time)
    body = _section_forecast(store, cat, section, at, timedelta(seconds=1))
    if body["issue_time"] != _iso(at):
        raise HTTPException(404, f"no flow forecast issued at {at.isoformat()}")
    return body


@router.get("/runs", response_model=RunsOut)
def runs(request: Request, cat: Cat, store: StoreDep, _: Reader,
         kind: Literal["air", "flow"] = "air", city: str | None = None,
         section: str | None = None, start: str | None = None,
         end: str | None = None) -> dict:
    """Forecast runs issued in [start, end) (default: the 7 days before now; at most 366
    days), newest first. Every run covers all cities (air) or sections (flow); with ``city``
    or ``section`` each run carries the URL of that one's forecast."""
    if city is not None and city not in cat.cities:
        raise HTTPException(404, f"unknown city {city!r}")
    if section is not None and section not in cat.sections:
        raise HTTPException(404, f"unknown section {section!r}")
    t1 = _time(end, _now(request) + timedelta(seconds=1), "end")
    t0 = _time(start, t1 - timedelta(days=7), "start")
    if t1 <= t0:
        raise HTTPException(422, "end must be after start")
    if t1 - t0 > MAX_RUNS_SPAN:
        raise HTTPException(422, "time range longer than 366 days")
    df = _issue_rows(store, kind, t0, t1)
    key = city if kind == "air" else section
    base = f"/forecasts/{'cities' if kind == 'air' else 'sections'}/{key}?issue_time="
    out = []
    for r in (df.sort_values("time", ascending=False).itertuples() if len(df) else ()):
        n = getattr(r, "n_keys", None)
        out.append({"kind": kind, "issue": str(r.issue), "issue_time": _iso(r.time),
                    "model": str(getattr(r, "model_id", "")),
                    "n_keys": None if n is None or pd.isna(n) else int(n),
                    "url": base + pd.Timestamp(r.time).strftime("%Y-%m-%dT%H:%M:%SZ")
                    if key else None})
    return {"start": t0.isoformat(), "end": t1.isoformat(), "runs": out}
