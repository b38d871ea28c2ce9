"""Bulletins to download and who is on duty.

``GET /bulletins/daily?day=&city=``, ``/bulletins/monday?day=``, ``/bulletins/monthly?month=``,
``/bulletins/yearly?year=`` with ``format=json|csv|pdf`` and ``lang=zh|en``: the same
bulletins the alert service sends (docs/services/alerts.md "Reports"), built from the store,
the eco-flow targets, the alert state and the stored forecasts. ``GET /duty?team=&at=``: the
person on duty per team (no contact details) for the dashboard.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from core.timeutil import CST

from ..deps import Cat, Reader, StoreDep
from .series import _time

router = APIRouter(tags=["bulletins"])
Format = Literal["json", "csv", "pdf"]
Lang = Literal["zh", "en"]
UNAVAILABLE = {503: {"description": "the alert state (or the eco-flow targets) is not "
                                    "configured on this server"}}


def _now(request: Request) -> datetime:
    return datetime.fromtimestamp(request.app.state.clock(), timezone.utc)


def _today(request: Request) -> date:
    return _now(request).astimezone(CST).date()


def _state(request: Request):
    st = getattr(request.app.state, "alerts", None)
    if st is None:
        raise HTTPException(503, "the alert state is not configured on this server")
    return st


def _state_class():
    from alerts import AlertState
    return AlertState


def _out(b, fmt: str, lang: str) -> Response | dict:
    if fmt == "json":
        return b.as_json()
    if fmt == "csv":
        return Response(b.csv(), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="{b.name}.csv"'})
    return Response(b.pdf(lang), media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{b.name}.pdf"'})


def _year_ok(y: int) -> None:
    if not 2000 <= y <= 2100:
        raise HTTPException(422, "out of range (years 2000-2100)")


def _ecoflow(request: Request, store, cat, kind: str, period: str, fmt: str, lang: str):
    targets = getattr(request.app.state, "targets", None)
    if targets is None:
        raise HTTPException(503, "ecological-flow targets are not configured on this server")
    try:
        b = _state_class().ecoflow_bulletin(store, cat, targets, kind, period, _now(request))
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return _out(b, fmt, lang)


@router.get("/bulletins/monday", responses=UNAVAILABLE)
def monday(request: Request, cat: Cat, store: StoreDep, _: Reader, day: date | None = None,
           format: Format = "json", lang: Lang = "zh"):
    """The Monday eco-flow disposal list for the week before ``day`` (a Monday; default this
    week's)."""
    today = _today(request)
    day = day or today - timedelta(days=today.weekday())
    _year_ok(day.year)
    if day.weekday() != 0:
        raise HTTPException(422, f"{day} is not a Monday")
    return _ecoflow(request, store, cat, "monday", day.isoformat(), format, lang)


@router.get("/bulletins/monthly", responses=UNAVAILABLE)
def monthly(request: Request, cat: Cat, store: StoreDep, _: Reader,
            month: str = Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM"),
            format: Format = "json", lang: Lang = "zh"):
    """A month's eco-flow compliance bulletin (a month not yet over: so far, no verdict)."""
    y, m = (int(x) for x in month.split("-"))
    _year_ok(y)
    if not 1 <= m <= 12:
        raise HTTPException(422, "month must be YYYY-MM")
    return _ecoflow(request, store, cat, "monthly", month, format, lang)


@router.get("/bulletins/yearly", responses=UNAVAILABLE)
def yearly(request: Request, cat: Cat, store: StoreDep, _: Reader, year: int,
           format: Format = "json", lang: Lang = "zh"):
    """A year's eco-flow assessment (compliance and months passing)."""
    _year_ok(year)
    return _ecoflow(request, store, cat, "yearly", str(year), format, lang)


@router.get("/bulletins/daily", responses=UNAVAILABLE)
def daily(request: Request, cat: Cat, store: StoreDep, _: Reader, day: date | None = None,
          city: list[str] | None = Query(None, description="repeat for several; default all"),
          format: Format = "json", lang: Lang = "zh"):
    """The daily air-quality summary of ``day`` (default yesterday, CST): daily AQI and
    primary pollutant per city, warnings in force now, and the forecast for the day after
    ``day + 1``."""
    day = day or _today(request) - timedelta(days=1)
    _year_ok(day.year)
    unknown = sorted(set(city or []) - set(cat.cities))
    if unknown:
        raise HTTPException(404, f"unknown cities {unknown}")

    def forecasts(store_, c, now):
        from forecasting import latest_city_forecast
        return latest_city_forecast(store_, c, now)
    b = _state(request).bulletin("daily", day.isoformat(), store=store, forecasts=forecasts,
                                 cities=city or None, now=_now(request))
    return _out(b, format, lang)


@router.get("/duty", responses={**UNAVAILABLE, 404: {"description": "unknown team, or a "
                                                          "team without a duty plan"}})
def duty(request: Request, _: Reader, team: str | None = None, at: str | None = None
         ) -> list[dict]:
    """Who is on duty at ``at`` (ISO 8601; without an offset CST; default now) for ``team``
    (a recipient id such as ``team-xian``), or for every team with a duty plan."""
    from alerts.errors import NotFound
    when = _time(at, None, "at") if at else _now(request)
    try:
        return _state(request).duty(team, when)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
