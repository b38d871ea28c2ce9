"""Server-sent events of alert notifications, read from the state database.

The alert service writes one broadcast (``sse``) outbox row per notification event in the
transaction that causes it; each stream polls the rows newer than the last one it sent, so
an event raised by any alert process reaches the clients of every API process. Frames carry
the row id (``id:``): a reconnecting EventSource sends it back as ``Last-Event-ID`` and
resumes after it.
"""
from __future__ import annotations

import asyncio
import json
import time
from typing import Callable

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse

from ..auth import Principal
from ..deps import READERS, authenticate, client_address
from .alerts import _svc

router = APIRouter(tags=["alerts"])
POLL_S = 0.5        # how often a stream reads new rows
KEEPALIVE_S = 10.0  # a comment frame when nothing happened for this long
SETTLE_S = 5.0      # a row id seen this long ago: no lower id can still be committing
PAGE = 500


class EventCursor:
    """The rows of ``read(after, limit)`` not sent yet, in id order.

    Ids are taken at insert: a transaction may commit a lower id after a higher one was read.
    So the cursor re-reads from ``floor`` (the newest id read at least ``settle_s`` ago) and
    skips the ids it has sent since.
    """

    def __init__(self, read: Callable[[int, int], list[dict]], after: int, *,
                 settle_s: float = SETTLE_S, now: Callable[[], float] = time.monotonic) -> None:
        self.read, self.floor, self.settle_s, self.now = read, after, settle_s, now
        self.sent: dict[int, float] = {}   # id -> when read, for ids above the floor

    def poll(self) -> list[dict]:
        t, after, new = self.now(), self.floor, []
        while True:
            rows = self.read(after, PAGE)
            new += [r for r in rows if r["id"] not in self.sent]
            if len(rows) < PAGE:
                break
            after = rows[-1]["id"]
        for r in new:
            self.sent[r["id"]] = t
        settled = [i for i, seen in self.sent.items() if t - seen >= self.settle_s]
        if settled:
            self.floor = max(self.floor, max(settled))
            self.sent = {i: seen for i, seen in self.sent.items() if i > self.floor}
        return new


def frame(row: dict) -> str:
    """One server-sent-events frame: ``id`` (the row id), ``event`` (issued, acknowledged,
    ...) and the notification body as ``data`` (the SSE channel's JSON)."""
    data = json.dumps(row["body"], ensure_ascii=False, default=str)
    return f"id: {row['id']}\nevent: {row['event'] or 'message'}\ndata: {data}\n\n"


def _sse_principal(request: Request, key: str | None) -> Principal:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer ") and key:
        header = f"Bearer {key}"
    p = authenticate(request.app, header, client_address(request.scope))
    if p.role not in set(READERS) | {"admin"}:
        raise HTTPException(403, f"role {p.role!r} may not read alert events")
    return p


def _start(request: Request, state) -> int:
    last = request.headers.get("last-event-id", "").strip()
    return int(last) if last.isdigit() else state.last_event_id()


@router.get("/events", responses={200: {"content": {"text/event-stream": {}}}})
async def events(request: Request, key: str | None = None):
    """Server-sent events: one ``data:`` JSON object per alert notification event, named
    after it (``event: issued``). EventSource cannot send headers, so ``?key=`` is accepted
    too; ``Last-Event-ID`` resumes after that event."""
    _sse_principal(request, key)
    state = _svc(request)
    cursor = EventCursor(state.events, await asyncio.to_thread(_start, request, state))

    async def stream():
        yield ": connected\n\n"
        quiet = time.monotonic()
        while not await request.is_disconnected():
            rows = await asyncio.to_thread(cursor.poll)
            for row in rows:
                yield frame(row)
            if rows:
                quiet = time.monotonic()
            elif time.monotonic() - quiet >= KEEPALIVE_S:
                quiet = time.monotonic()
                yield ": keep-alive\n\n"
            await asyncio.sleep(POLL_S)
    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})
