"""The HTTP API (FastAPI). Reads through the same store port every service uses."""
from __future__ import annotations

import time
from typing import Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from core.catalogue import Catalogue
from core.store import QueryError, QueryTooLarge, Store, StoreError, StoreUnavailable

from .auth import KeyStore, RateLimiter
from .dashboard import router as dashboard_router
from .routes import alerts, aqi, catalogue, ecoflow, ops, series


def create_app(store: Store, catalogue_: Catalogue, keys: KeyStore, *,
               limiter: RateLimiter | None = None, targets=None, alert_service=None,
               extras: dict | None = None, clock: Callable[[], float] = time.time) -> FastAPI:
    """The app. Optional parts (``targets``, ``alert_service``, ``extras`` such as the
    ingest dead-letter store) answer 503 when absent; ``clock`` is the service's notion of
    now (the demo runs on simulated time)."""
    app = FastAPI(title="Fenwei API", version="0.1.0",
                  description="Stations, series and warnings for the Guanzhong and Fen-Wei "
                              "Plains. Send `Authorization: Bearer <key>`. Times are ISO 8601 "
                              "with offsets; without one they mean China Standard Time.")
    app.state.store, app.state.catalogue, app.state.keys = store, catalogue_, keys
    app.state.limiter = limiter or RateLimiter()
    app.state.targets, app.state.clock = targets, clock
    app.state.alerts, app.state.extras = alert_service, dict(extras or {})
    app.add_exception_handler(StoreError, _store_error)
    app.middleware("http")(_audit_writes)
    for module in (ops, catalogue, series, aqi, ecoflow, alerts):
        app.include_router(module.router)
    app.include_router(dashboard_router)
    return app


async def _audit_writes(request: Request, call_next):
    response = await call_next(request)
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        p = getattr(request.state, "principal", None)
        request.app.state.keys.audit(p, request.method, request.url.path, response.status_code)
    return response


def _store_error(request: Request, exc: StoreError) -> JSONResponse:
    if isinstance(exc, QueryTooLarge):
        return JSONResponse({"detail": str(exc), "reason": "query_too_large"}, 413)
    if isinstance(exc, QueryError):
        return JSONResponse({"detail": str(exc), "reason": "bad_query"}, 400)
    if isinstance(exc, StoreUnavailable):
        return JSONResponse({"detail": "store unavailable", "reason": "store_down"}, 503)
    return JSONResponse({"detail": "store error", "reason": "store_error"}, 500)
