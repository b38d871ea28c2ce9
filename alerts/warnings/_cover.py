"""Which open alerts cover a city: regional minimum levels and warnings in force."""
from __future__ import annotations

from datetime import datetime

from .._levels import higher

LIVE = ("active", "acknowledged")


def covering(open_alerts: list[dict], city: str, kinds, now: datetime) -> list[dict]:
    """Issued open alerts of ``kinds`` whose cities include ``city`` and that have not expired
    (evidence ``valid_until``); a regional alert's current cities are in its evidence."""
    out = []
    for a in open_alerts:
        if a["kind"] not in kinds or a["state"] not in LIVE or not a["level"]:
            continue
        ev = a.get("evidence") or {}
        until = ev.get("valid_until")
        if city not in (ev.get("cities") or a["cities"]):
            continue
        if until and datetime.fromisoformat(until) <= now:
            continue
        out.append(a)
    return out


def regional_floor(open_alerts: list[dict], city: str, kinds, now: datetime) -> dict | None:
    """The highest regional minimum level set on ``city`` now, with the alert setting it."""
    best = None
    for a in covering(open_alerts, city, kinds, now):
        if best is None or higher(a["level"], best["level"]):
            ev = a.get("evidence") or {}
            best = {"level": a["level"], "alert_id": a["id"], "subject": a["subject"],
                    "source": ev.get("source"), "issued_by": ev.get("issued_by")}
    return best
