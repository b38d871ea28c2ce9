"""The request guard (pure ASGI, in front of every route): bodies are bounded, and a write is
authenticated from its ``Authorization`` header before anything reads its body.

* A body over ``MAX_BODY`` bytes is refused with 413: at once when ``Content-Length`` says so,
  else as soon as the streamed body passes the bound.
* ``POST``/``PUT``/``PATCH``/``DELETE`` need a valid key (401, or 429 once the client address
  has failed too often) before the route runs; the acknowledgement link (``/ack``), whose
  token is the credential, is the one keyless write.
"""
from __future__ import annotations

import json

from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool

MAX_BODY = 1024 * 1024
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
KEYLESS_WRITES = {"/ack"}


class BodyTooLarge(HTTPException):
    """Raised while a route reads a body past the bound (an HTTPException, so that FastAPI's
    body parsing passes it on as 413 instead of a 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over {limit} bytes")


class Guard:
    def __init__(self, app, max_body: int = MAX_BODY) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body:
            return await _answer(send, 413, f"request body over {self.max_body} bytes")
        if scope["method"] in WRITES and scope["path"] not in KEYLESS_WRITES:
            from .deps import authenticate, client_address
            try:
                p = await run_in_threadpool(authenticate, scope["app"],
                                            headers.get("authorization", ""),
                                            client_address(scope))
            except HTTPException as exc:
                return await _answer(send, exc.status_code, exc.detail, exc.headers)
            scope.setdefault("state", {})["principal"] = p
        return await self._bounded(scope, receive, send)

    async def _bounded(self, scope, receive, send):
        seen, started = 0, False

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise BodyTooLarge(self.max_body)
            return message

        async def watched(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)
        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if not started:
                await _answer(send, 413, f"request body over {self.max_body} bytes")


async def _answer(send, status: int, detail: str, headers: dict | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    hdrs = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    hdrs += [(k.lower().encode(), str(v).encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body})
