"""Alerts: list/filter, detail with evidence and audit trail, acknowledge, note, cancel,
CAP 1.2 per alert, an Atom feed of active CAP alerts and regional prompts. All through an
``alerts.AlertState`` on the state database (``app.state.alerts``); the event stream is in
``events``."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal
from xml.sax.saxutils import escape

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ..auth import Principal
from ..deps import Admin, Cat, Reader, require

router = APIRouter(tags=["alerts"])
Actor = Annotated[Principal, Depends(require("city-team", "bureau"))]


class AckIn(BaseModel):
    responder: str = Field(min_length=1, max_length=100)
    note: str = Field("", max_length=2000)


class NoteIn(BaseModel):
    note: str = Field(min_length=1, max_length=2000)


class CancelIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


def _svc(request: Request):
    svc = getattr(request.app.state, "alerts", None)
    if svc is None:
        raise HTTPException(503, "alert state is not configured on this server")
    return svc


def _get(svc, alert_id: str) -> dict:
    from alerts.errors import NotFound
    try:
        return svc.alert(alert_id)
    except NotFound:
        raise HTTPException(404, f"unknown alert {alert_id!r}") from None


def _own_cities(p: Principal, alert: dict, cat) -> set[str] | None:
    """The alert's cities this key stands for (None: all of them, an admin)."""
    if p.role == "admin":
        return None
    cities = set(alert.get("cities") or [])
    if p.role == "city-team":
        return cities & {p.scope}
    if p.role == "bureau":
        return {c for c in cities if c in cat.cities and cat.cities[c].province == p.scope}
    return set()


def _may_act(p: Principal, alert: dict, cat) -> set[str] | None:
    """The cities ``p`` may act for on this alert; 403 when none."""
    own = _own_cities(p, alert, cat)
    if own is None or own:
        return own
    cities = set(alert.get("cities") or [])
    raise HTTPException(403, f"key {p.name!r} ({p.role} {p.scope}) may not act on alerts of "
                             f"{', '.join(sorted(cities)) or 'no city'}")


def _may_cancel(p: Principal, alert: dict, cat) -> None:
    """Cancelling ends the alert for every city it covers: for the issuer, an admin, or a
    key that stands for every one of those cities."""
    own = _may_act(p, alert, cat)
    issuer = (alert.get("evidence") or {}).get("issued_by")
    if own is None or issuer == f"key:{p.name}" or own >= set(alert.get("cities") or []):
        return
    raise HTTPException(403, f"alert {alert['id']} also covers "
                             f"{', '.join(sorted(set(alert['cities']) - own))}: only its "
                             "issuer or an admin may cancel it")


def _iso(v):
    return v.isoformat() if isinstance(v, datetime) else v


def _expires(ev: dict):
    """When a warning is expected to end: an explicit ``expires_at``, a prompt's
    ``valid_until``, a city warning's forecast episode ``end`` or a regional ``window`` end."""
    window = ev.get("window") if isinstance(ev.get("window"), dict) else {}
    return (ev.get("expires_at") or ev.get("valid_until") or ev.get("end")
            or window.get("end"))


def _titles(svc, a: dict) -> tuple[str, str]:
    """The alert's titles: its evidence's, else its rule's (``title_zh``/``title_en``)."""
    ev = a.get("evidence") or {}
    rule = getattr(getattr(svc, "rules", None), "rules", {}).get(a["rule_id"])
    cfg = getattr(rule, "config", None)
    return (ev.get("title_zh") or getattr(cfg, "title_zh", "") or a["kind"],
            ev.get("title_en") or getattr(cfg, "title_en", "") or a["kind"])


def _public(a: dict, svc=None) -> dict:
    ev = a.get("evidence") or {}
    title_zh, title_en = _titles(svc, a)
    return {"id": a["id"], "rule": a["rule_id"], "kind": a["kind"], "level": a["level"],
            "state": a["state"], "open": a["open"], "subject": a["subject"],
            "cities": a["cities"], "exercise": a["exercise"],
            "retrospective": a["retrospective"], "title_zh": title_zh,
            "title_en": title_en, "opened_at": _iso(a["opened_at"]),
            "observed_at": _iso(a["observed_at"]), "resolved_at": _iso(a["resolved_at"]),
            "expires_at": _iso(_expires(ev)), "acknowledged_by": a["ack_by"],
            "acknowledged_at": _iso(a["ack_at"]), "escalation_step": a["escalation_step"],
            "acknowledged_cities": _acked(svc, a), "regional": _regional(svc, a)}


def _regional(svc, a: dict) -> dict | None:
    """The regional (Fen-Wei) warning a city warning is part of, with a link when the alert
    service names its public address (``link_base_url``); None for any other alert."""
    from alerts import regional_link
    base = getattr(getattr(svc, "settings", None), "link_base_url", None)
    return regional_link(a, base)


def _acked(svc, a: dict) -> list[str]:
    """Cities acknowledged so far (a regional alert is acknowledged city by city)."""
    lc = getattr(svc, "lifecycle", None)
    return lc.acknowledged_for(a) if lc is not None else []


@router.get("/alerts")
def list_alerts(request: Request, _: Reader, state: Literal["open", "all"] = "open",
                city: str | None = None, level: str | None = None, kind: str | None = None,
                since: Annotated[str | None, Query(
                    description="ISO 8601; without an offset China Standard Time")] = None,
                limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[dict]:
    """Alerts, newest first, filtered by city, level, kind and time (``since``: opened at or
    after; without an offset it is China Standard Time, as in every route)."""
    from .series import _time
    since = _time(since, None, "since") if since is not None else None
    svc = _svc(request)
    rows = svc.alerts(open_only=state == "open")
    out = [_public(a, svc) for a in rows
           if (city is None or city in (a["cities"] or []))
           and (level is None or a["level"] == level) and (kind is None or a["kind"] == kind)
           and (since is None or a["opened_at"] >= since)]
    return sorted(out, key=lambda a: a["opened_at"], reverse=True)[:limit]


@router.get("/alerts/{alert_id}")
def get_alert(alert_id: str, request: Request, _: Reader) -> dict:
    """One alert with its evidence and audit trail."""
    svc = _svc(request)
    a = _get(svc, alert_id)
    audit = [{k: _iso(v) for k, v in r.items()} for r in svc.audit(alert_id)]
    return {**_public(a, svc), "evidence": a["evidence"], "audit": audit}


@router.post("/alerts/{alert_id}/ack")
def ack(alert_id: str, body: AckIn, request: Request, cat: Cat, p: Actor) -> dict:
    """Acknowledge for the cities this key stands for: a city team for its own city, a bureau
    for its province's, an admin for all. The alert is acknowledged once every city it
    covers is (the answer's ``acknowledged_cities`` lists those done so far)."""
    svc = _svc(request)
    own = _may_act(p, _get(svc, alert_id), cat)
    return _transition(lambda: svc.acknowledge(alert_id, f"{body.responder} (key {p.name})",
                                               body.note, via=f"api:key:{p.key_id}",
                                               cities=own))


@router.post("/alerts/{alert_id}/note")
def note(alert_id: str, body: NoteIn, request: Request, cat: Cat, p: Actor) -> dict:
    """Add a note to the alert's audit trail."""
    svc = _svc(request)
    _may_act(p, _get(svc, alert_id), cat)
    return _transition(lambda: svc.add_note(alert_id, f"key:{p.name}", body.note))


@router.post("/alerts/{alert_id}/cancel")
def cancel(alert_id: str, body: CancelIn, request: Request, cat: Cat, p: Actor) -> dict:
    """Cancel for everyone: the issuer, an admin, or a key standing for every covered city."""
    svc = _svc(request)
    _may_cancel(p, _get(svc, alert_id), cat)
    return _transition(lambda: svc.cancel(alert_id, f"key:{p.name}", body.reason))


def _transition(fn) -> dict:
    from alerts.errors import InvalidTransition, NotFound
    try:
        out = fn()
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except InvalidTransition as exc:
        raise HTTPException(409, str(exc)) from None
    return {k: _iso(v) for k, v in (out or {}).items()} if isinstance(out, dict) else {"ok": True}


def _latest_cap(svc, alert_id: str) -> str | None:
    refs = svc.alert(alert_id).get("cap_refs") or []
    return refs[-1]["xml"] if refs else None


@router.get("/alerts/{alert_id}/cap", responses={200: {"content": {"application/xml": {}}}})
def cap(alert_id: str, request: Request, _: Reader):
    """The alert's latest CAP 1.2 message."""
    svc = _svc(request)
    _get(svc, alert_id)
    xml = _latest_cap(svc, alert_id)
    if xml is None:
        raise HTTPException(404, "no CAP message issued for this alert (pending or "
                                 "retrospective)")
    return Response(xml, media_type="application/cap+xml")


@router.get("/cap/feed.atom", responses={200: {"content": {"application/atom+xml": {}}}})
def atom(request: Request, _: Reader):
    """Atom feed of active alerts, each linking to its CAP message."""
    svc = _svc(request)
    base = str(request.base_url).rstrip("/")
    # the app's clock: the simulator's in the demo
    now = datetime.fromtimestamp(request.app.state.clock(), timezone.utc).isoformat()
    entries = []
    for a in svc.alerts(open_only=True):
        if a["state"] in ("pending",) or _latest_cap(svc, a["id"]) is None:
            continue
        title = escape(f"{a['kind']} {a['level'] or ''} {a['subject']}")
        entries.append(
            f"<entry><id>urn:fenwei:alert:{a['id']}</id><title>{title}</title>"
            f"<updated>{_iso(a['updated_at'])}</updated>"
            f'<link rel="alternate" type="application/cap+xml" '
            f'href="{base}/alerts/{a["id"]}/cap"/></entry>')
    feed = ('<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<id>urn:fenwei:cap-feed</id><title>Fenwei active alerts</title>"
            f"<updated>{now}</updated>{''.join(entries)}</feed>")
    return Response(feed, media_type="application/atom+xml")


class PromptIn(BaseModel):
    level: Literal["yellow", "orange", "red"]
    cities: list[str] = Field(min_length=1)
    note: str = Field("", max_length=2000)
    valid_hours: int = Field(72, ge=1, le=24 * 14)


@router.post("/regional-prompts")
def regional_prompt(body: PromptIn, request: Request, cat: Cat, p: Admin) -> dict:
    """An externally issued regional prompt (e.g. the national centre's notice): every
    listed Fen-Wei city warns at no lower than ``level``."""
    svc = _svc(request)
    bad = [c for c in body.cities if c not in cat.cities]
    if bad:
        raise HTTPException(422, f"unknown cities {bad}")
    fn = getattr(svc, "regional_prompt", None)
    if fn is None:
        raise HTTPException(501, "regional prompts are not available in this build")
    return {k: _iso(v) for k, v in fn(level=body.level, cities=body.cities,
                                      issued_by=f"key:{p.name}", note=body.note,
                                      valid_hours=body.valid_hours).items()}
