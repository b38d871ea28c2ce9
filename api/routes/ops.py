"""Health and readiness."""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ..deps import StoreDep

router = APIRouter(tags=["ops"])


@router.get("/health")
def health() -> dict:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/ready")
def ready(store: StoreDep):
    """Readiness: the store answers."""
    if store.ping():
        return {"status": "ready"}
    return JSONResponse({"status": "store unavailable"}, 503)
