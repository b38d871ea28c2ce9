"""The HTTP API (FastAPI). Reads through the same store port every service uses."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from core.catalogue import Catalogue
from core.store import QueryError, QueryTooLarge, Store, StoreError, StoreUnavailable

from .admission import Admission
from .auth import FailureLimiter, KeyStore, RateLimiter
from .dashboard import router as dashboard_router
from .guard import MAX_BODY, Guard
from .routes import (ack, alerts, aqi, bulletins, catalogue, deadletters, ecoflow, events,
                     forecasts, inspect, metrics, ops, reports, series, silences)


class Error(BaseModel):
    detail: str
    reason: str | None = None


# every route may answer these (the body always carries a readable ``detail``)
ERRORS = {401: {"model": Error, "description": "missing, invalid or revoked API key"},
          403: {"model": Error, "description": "the key's role may not use this route"},
          413: {"model": Error, "description": f"request body over {MAX_BODY} bytes"},
          429: {"model": Error, "description": "rate limit of this key, or of failed "
                                               "authentications from this address, exceeded"}}


MAX_CONCURRENT = 0


def create_app(store: Store, catalogue_: Catalogue, keys: KeyStore, *,
               limiter: RateLimiter | None = None,
               auth_failures: FailureLimiter | None = None, targets=None, alert_state=None,
               alert_service=None, extras: dict | None = None,
               clock: Callable[[], float] = time.time,
               dead_letters_path: str | Path | None = None,
               max_concurrent: int = MAX_CONCURRENT) -> FastAPI:
    """The app from its parts; :func:`api.build_app` builds them from settings. Optional
    parts (``targets``; ``alert_state``: an ``alerts.AlertState`` on the state database, or
    ``alert_service``, its older name, anything with that interface; ``dead_letters_path``:
    the ingest state file holding dead letters) answer 503 when absent; ``clock`` is the
    service's notion of now (the demo runs on simulated time); ``auth_failures``: failed
    authentications allowed per client address (default :class:`FailureLimiter`);
    ``max_concurrent``: requests worked on at once, the rest wait in arrival order
    (:mod:`api.admission`; 0: no limit)."""
    app = FastAPI(title="Fenwei API", version="0.1.0",
                  description="Stations, series and warnings for the Guanzhong and Fen-Wei "
                              "Plains. Send `Authorization: Bearer <key>`. Times are ISO 8601 "
                              "with offsets; without one they mean China Standard Time.")
    app.state.store, app.state.catalogue, app.state.keys = store, catalogue_, keys
    app.state.limiter = limiter or RateLimiter()
    app.state.auth_failures = FailureLimiter() if auth_failures is None else auth_failures
    app.state.targets, app.state.clock = targets, clock
    app.state.alerts = alert_state if alert_state is not None else alert_service
    app.state.extras = dict(extras or {})
    app.state.dead_letters_path = dead_letters_path
    app.add_exception_handler(StoreError, _store_error)
    app.add_middleware(Guard)   # innermost: a write is authenticated before its body is read
    app.add_middleware(_AuditWrites)
    app.add_middleware(Admission, limit=max_concurrent)
    metrics.install(app)  # outermost: counts every answer, 401/429 included
    for module in (ops, metrics, catalogue, series, aqi, ecoflow, alerts, silences, ack,
                   events, forecasts, deadletters, reports, inspect, bulletins):
        app.include_router(module.router, responses=ERRORS)
    app.include_router(dashboard_router)
    app.openapi = lambda: _openapi(app)
    return app


def _openapi(app: FastAPI) -> dict:
    """The generated document, with 422 bodies as they are: FastAPI's list of validation
    errors, or one message from a handler's own check (``{"detail": "..."}``)."""
    if app.openapi_schema is None:
        doc = FastAPI.openapi(app)
        detail = doc.get("components", {}).get("schemas", {}) \
            .get("HTTPValidationError", {}).get("properties", {}).get("detail")
        if detail is not None:
            doc["components"]["schemas"]["HTTPValidationError"]["properties"]["detail"] = {
                "anyOf": [{k: v for k, v in detail.items() if k != "title"}, {"type": "string"}],
                "title": "Detail"}
    return app.openapi_schema


class _AuditWrites:
    """One audit row per write by a known key; anonymous requests write nothing. Pure ASGI
    (a ``BaseHTTPMiddleware`` costs every request, reads included, a task group and a
    memory stream)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        status = [500]

        async def watched(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)
        await self.app(scope, receive, watched)
        p = scope.get("state", {}).get("principal")
        if p is not None:
            await run_in_threadpool(scope["app"].state.keys.audit, p, scope["method"],
                                    Request(scope).url.path, status[0])


def _store_error(request: Request, exc: StoreError) -> JSONResponse:
    if isinstance(exc, QueryTooLarge):
        return JSONResponse({"detail": str(exc), "reason": "query_too_large"}, 413)
    if isinstance(exc, QueryError):
        return JSONResponse({"detail": str(exc), "reason": "bad_query"}, 400)
    if isinstance(exc, StoreUnavailable):
        return JSONResponse({"detail": "store unavailable", "reason": "store_down"}, 503)
    return JSONResponse({"detail": "store error", "reason": "store_error"}, 500)
