"""Ecological flow: targets (admin may change them, audited), section status, reports."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Literal

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from core.ecoflow import (TargetError, daily_flow, grade_days, monday_list,
                            monthly_compliance, yearly_summary)
from core.timeutil import CST

from ..auth import Principal
from ..deps import Admin, Cat, Reader, StoreDep, require

router = APIRouter(tags=["ecoflow"])
# who changed which target when: inspectors and bureaus check it, not only admins
Auditor = Annotated[Principal, Depends(require("inspector", "bureau"))]


class TargetIn(BaseModel):
    section: str
    valid_from: date
    months: list[int] | None = Field(None, description="1..12; null means all year")
    target_m3s: float = Field(ge=0)
    source: str = Field(min_length=1, max_length=300)


def _targets(request: Request):
    ts = getattr(request.app.state, "targets", None)
    if ts is None:
        raise HTTPException(503, "ecological-flow targets are not configured on this server")
    return ts


def _today(request: Request) -> date:
    return datetime.fromtimestamp(request.app.state.clock(), timezone.utc).astimezone(CST).date()


def _out(df: pd.DataFrame, fmt: str, name: str):
    if fmt == "csv":
        return StreamingResponse(iter([df.to_csv(index=False)]), media_type="text/csv",
                                 headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    return df.astype(object).where(df.notna(), None).to_dict("records")


@router.get("/ecoflow/targets")
def get_targets(request: Request, _: Reader) -> list[dict]:
    """The target table (placeholders are marked)."""
    return [{**t.__dict__, "valid_from": t.valid_from.isoformat()}
            for t in _targets(request).table().rows()]


@router.put("/ecoflow/targets")
def put_target(body: TargetIn, request: Request, p: Admin) -> dict:
    """Add a target row (applies from its valid_from); audited with the key's identity."""
    try:
        t = _targets(request).set(body.model_dump(mode="json"), who=f"key:{p.key_id}:{p.name}")
    except TargetError as exc:
        raise HTTPException(422, str(exc)) from None
    return {**t.__dict__, "valid_from": t.valid_from.isoformat()}


@router.get("/ecoflow/targets/audit")
def targets_audit(request: Request, _: Auditor) -> list[dict]:
    """Every change of the target table (who, when, what); inspectors, bureaus, admins."""
    return _targets(request).audit()


def _daily(request, store, cat, start: date, end: date) -> pd.DataFrame:
    return daily_flow(store, cat, _targets(request).table(), start, end)


@router.get("/ecoflow/status")
def status(request: Request, cat: Cat, store: StoreDep, _: Reader) -> list[dict]:
    """Each control section's latest complete day: daily mean, target and warning level."""
    today = _today(request)
    df = _daily(request, store, cat, today - timedelta(days=14), today)
    out = []
    for section, g in df.groupby("section", sort=False):
        g = g.sort_values("day")
        grades = grade_days([(r.day, None if pd.isna(r.q_mean) else r.q_mean,
                              None if pd.isna(r.target) else r.target) for r in g.itertuples()])
        last, sec = grades[-1], cat.sections[section]
        out.append({"section": section, "name_zh": sec.name_zh, "river": sec.river,
                    "day": last.day.isoformat(), "q_mean": last.q, "target": last.target,
                    "level": last.level, "status": "unknown" if last.raw is None else "ok",
                    "reason": last.reason, "below_days": last.below_days})
    return out


@router.get("/ecoflow/monday")
def monday(request: Request, cat: Cat, store: StoreDep, _: Reader, day: date | None = None,
           format: Literal["json", "csv"] = "json"):
    """The Monday disposal list for the week before ``day`` (a Monday; default: this week's)."""
    day = day or _today(request) - timedelta(days=_today(request).weekday())
    if not 2000 <= day.year <= 2100:
        raise HTTPException(422, "day out of range (years 2000-2100)")
    if day.weekday() != 0:
        raise HTTPException(422, f"{day} is not a Monday")
    return _out(monday_list(_daily(request, store, cat, day - timedelta(days=7), day), day),
                format, f"monday-{day}")


@router.get("/ecoflow/compliance")
def compliance(request: Request, cat: Cat, store: StoreDep, _: Reader, month: str,
               format: Literal["json", "csv"] = "json"):
    """Monthly compliance per section (% of days met, against the 90 % benchmark)."""
    try:
        y, m = (int(x) for x in month.split("-"))
        first = date(y, m, 1)
    except ValueError:
        raise HTTPException(422, "month must be YYYY-MM") from None
    if not 2000 <= y <= 2100:
        raise HTTPException(422, "month out of range (years 2000-2100)")
    nxt = date(y + (m == 12), m % 12 + 1, 1)
    # a month not yet over is reported so far (days lived, no verdict), not as days unmet
    return _out(monthly_compliance(_daily(request, store, cat, first, nxt), y, m,
                                   today=_today(request)), format, f"compliance-{month}")


@router.get("/ecoflow/yearly")
def yearly(request: Request, cat: Cat, store: StoreDep, _: Reader, year: int,
           format: Literal["json", "csv"] = "json"):
    if not 2000 <= year <= 2100:
        raise HTTPException(422, "year out of range")
    daily = _daily(request, store, cat, date(year, 1, 1), date(year + 1, 1, 1))
    return _out(yearly_summary(daily, year, today=_today(request)), format, f"yearly-{year}")
