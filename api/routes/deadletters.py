"""Dead letters from ingest: messages (or single readings) that will never be stored, newest
first, with why. Read-only, from the ingest state file (``create_app(dead_letters_path=)``);
inspector and admin only (payloads can hold anything a device sent)."""
from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel

from core.timeutil import CST
from core.wire import REASONS
from core.deadletters import INGEST_REASONS, count_dead_letters, list_dead_letters

from ..auth import Principal
from ..deps import require
from .series import _time

router = APIRouter(prefix="/dead-letters", tags=["dead letters"])
ALL_REASONS = {**REASONS, **INGEST_REASONS}
Reason = Literal[tuple(sorted(ALL_REASONS))]  # type: ignore[valid-type]
Inspector = Annotated[Principal, Depends(require("inspector"))]
STATION = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
MAX_WITH_PAYLOAD = 100


class DeadLetterOut(BaseModel):
    id: int
    received_at: str
    topic: str
    station: str | None
    reason: str
    reason_text: str | None
    detail: str
    payload_size: int
    payload_b64: str | None = None


class DeadLettersOut(BaseModel):
    count: int
    rows: list[DeadLetterOut]


def _path(request: Request):
    path = getattr(request.app.state, "dead_letters_path", None)
    if path is None:
        raise HTTPException(503, "the ingest dead-letter store is not configured on this server")
    return path


def _row(d: dict) -> dict:
    out = {k: d[k] for k in ("id", "topic", "station", "reason", "detail", "payload_size")}
    out["received_at"] = datetime.fromtimestamp(d["received_at"], timezone.utc) \
        .astimezone(CST).isoformat()
    out["reason_text"] = ALL_REASONS.get(d["reason"])
    if "payload" in d:
        out["payload_b64"] = base64.b64encode(bytes(d["payload"])).decode("ascii")
    return out


@router.get("", response_model=DeadLettersOut,
            responses={503: {"description": "no dead-letter store configured"}})
def dead_letters(request: Request, _: Inspector,
                 reason: Reason | None = None,
                 station: Annotated[str | None, Query(pattern=STATION)] = None,
                 since: Annotated[str | None, Query(description="ISO 8601; no offset: CST")] = None,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                 payload: Annotated[bool, Query(description="include payloads (base64); "
                                                f"limit <= {MAX_WITH_PAYLOAD}")] = False) -> dict:
    """Newest first, filtered by reason, station and receive time (``since``)."""
    if payload and limit > MAX_WITH_PAYLOAD:
        raise HTTPException(422, f"with payload=true, limit must be <= {MAX_WITH_PAYLOAD}")
    t = _time(since, None, "since") if since else None
    rows = list_dead_letters(_path(request), reason=reason, station=station,
                             since=t.timestamp() if t else None, limit=limit,
                             with_payload=payload)
    return {"count": len(rows), "rows": [_row(r) for r in rows]}


@router.get("/counts", response_model=dict[str, int],
            responses={503: {"description": "no dead-letter store configured"}})
def dead_letter_counts(request: Request, _: Inspector) -> dict:
    """Rows kept per reason (the table is capped; totals since start are in ingest metrics)."""
    return count_dead_letters(_path(request))
