"""Silences (maintenance windows): list, create, expire and delete. An admin silences
anything; a city team only within its own city (the silence's ``city`` is its city), a
bureau within its province's cities. Every change is in the silence's audit trail (and the
API's write audit)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from ..auth import Principal
from ..deps import Cat, Reader, require
from .alerts import _iso, _svc

router = APIRouter(tags=["silences"])
Actor = Annotated[Principal, Depends(require("city-team", "bureau"))]


class SilenceIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)
    rule: str | None = Field(None, max_length=64)
    kind: str | None = Field(None, max_length=64)
    city: str | None = Field(None, max_length=64)
    station: str | None = Field(None, max_length=64)
    section: str | None = Field(None, max_length=64)
    level: str | None = Field(None, max_length=16)
    subject: str | None = Field(None, max_length=96)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    duration_minutes: int = Field(120, ge=1, le=60 * 24 * 30)


def _public(s: dict) -> dict:
    return {("rule" if k == "rule_id" else k): _iso(v) for k, v in s.items()}


def _may(p: Principal, city: str | None, cat) -> None:
    if p.role == "admin":
        return
    if p.role == "city-team" and city == p.scope:
        return
    if p.role == "bureau" and city in cat.cities and cat.cities[city].province == p.scope:
        return
    raise HTTPException(403, f"key {p.name!r} ({p.role} {p.scope}) may silence only within "
                             f"its own {'city' if p.role == 'city-team' else 'province'}: "
                             "give its city")


@router.get("/silences")
def list_silences(request: Request, _: Reader, all: bool = False,
                  city: str | None = None) -> list[dict]:
    """Silences, newest first (in force or to come; ``all``: ended ones too)."""
    return [_public(s) for s in _svc(request).silences(active_only=not all, city=city)]


@router.post("/silences", status_code=201)
def create_silence(body: SilenceIn, request: Request, cat: Cat, p: Actor) -> dict:
    """Hold the notifications of matching alerts from ``starts_at`` (default now) to
    ``ends_at`` (default ``duration_minutes`` later); the alerts keep their state."""
    from alerts.errors import InvalidTransition
    _may(p, body.city, cat)
    if body.city is not None and body.city not in cat.cities:
        raise HTTPException(422, f"unknown city {body.city!r}")
    svc = _svc(request)
    now = svc.clock.now()
    starts = body.starts_at or now
    ends = body.ends_at or starts + timedelta(minutes=body.duration_minutes)
    try:
        sid = svc.silence(rule_id=body.rule, subject=body.subject, kind=body.kind,
                          city=body.city, station=body.station, section=body.section,
                          level=body.level, starts=starts, ends=ends,
                          by=f"key:{p.name}", reason=body.reason)
    except InvalidTransition as exc:
        raise HTTPException(422, str(exc)) from None
    return _public(svc.silence_get(sid))


def _own(request: Request, silence_id: str, p: Principal, cat) -> object:
    from alerts.errors import NotFound
    svc = _svc(request)
    try:
        s = svc.silence_get(silence_id)
    except NotFound:
        raise HTTPException(404, f"unknown silence {silence_id!r}") from None
    _may(p, s["city"], cat)
    return svc


@router.post("/silences/{silence_id}/expire")
def expire_silence(silence_id: str, request: Request, cat: Cat, p: Actor) -> dict:
    """End a silence now: held notifications go out at the alert service's next tick."""
    from alerts.errors import InvalidTransition
    svc = _own(request, silence_id, p, cat)
    try:
        svc.expire_silence(silence_id, f"key:{p.name}")
    except InvalidTransition as exc:
        raise HTTPException(409, str(exc)) from None
    return _public(svc.silence_get(silence_id))


@router.delete("/silences/{silence_id}")
def delete_silence(silence_id: str, request: Request, cat: Cat, p: Actor) -> dict:
    """Remove a silence (its audit trail stays)."""
    svc = _own(request, silence_id, p, cat)
    return _public(svc.delete_silence(silence_id, f"key:{p.name}"))


@router.get("/silences/{silence_id}/audit")
def silence_audit(silence_id: str, request: Request, _: Reader) -> list[dict]:
    return [{k: _iso(v) for k, v in r.items()} for r in _svc(request).silence_audit(silence_id)]
