"""Screening for faults and tampering, and reviews of its findings (audited).
See docs/services/workbench.md."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from .. import workbench as wb
from ..auth import Principal
from ..deps import Cat, StoreDep, require
from .series import _range, _split

router = APIRouter(tags=["inspect"])
Inspector = Annotated[Principal, Depends(require("inspector", "bureau"))]


class Review(BaseModel):
    note: str = Field(min_length=1, max_length=4000)
    verdict: str = Field("reviewed", description="reviewed, false_alarm or confirmed")


def reviews(request: Request) -> wb.ReviewStore:
    """The review store on the API's state database (its key store's engine)."""
    extras = request.app.state.extras
    store = extras.get("workbench_reviews")
    if store is None:
        store = extras["workbench_reviews"] = wb.ReviewStore(request.app.state.keys.engine)
    return store


@router.get("/inspect/screen")
def screen(request: Request, cat: Cat, store: StoreDep, _: Inspector,
           stations: Annotated[str | None, Query(description="comma-separated ids")] = None,
           cities: Annotated[str | None, Query(description="comma-separated slugs")] = None,
           params: Annotated[str | None, Query(description="default pm25,pm10")] = None,
           start: str | None = None, end: str | None = None) -> dict:
    """Findings over the range (default the last 7 days): departures from the neighbourhood
    (ratio and residual after neighbours and wind), level shifts, flat lines, too-smooth
    series, drops at particular hours, PM2.5 above PM10, calibration or maintenance during
    episodes; each with period, score, evidence and reasons (en, zh) and its latest review.
    ``limits`` says what cannot be screened (edits after the fact)."""
    t0, t1 = _range(start, end)
    try:
        ids = wb.resolve_stations(cat, "air", _split(stations), _split(cities))
        names = wb.check_params(cat, "air", _split(params) or ["pm25", "pm10"])
    except wb.SelectionError as exc:
        raise HTTPException(404 if "unknown" in str(exc) else 422, str(exc)) from None
    if not ids:
        raise HTTPException(422, "select stations or cities")
    cfg = wb.ScreenConfig(params=tuple(names))
    return wb.attach(wb.screen(store, cat, ids, t0, t1, cfg), reviews(request))


@router.post("/inspect/findings/{finding}/review", status_code=201)
def review(finding: str, body: Review, request: Request, p: Inspector) -> dict:
    """Mark a finding reviewed (or a false alarm, or confirmed) with a note; every review is
    kept (who, when), the latest is the finding's state."""
    try:
        return reviews(request).review(finding, body.note, p.name, body.verdict)
    except wb.ReviewError as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("/inspect/findings/{finding}/reviews")
def history(finding: str, request: Request, _: Inspector) -> list[dict]:
    """Every review of a finding, oldest first."""
    return reviews(request).history(finding)
