"""Health and readiness."""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ..deps import AnyKey, StoreDep

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


@router.get("/me")
def me(p: AnyKey) -> dict:
    """Who the key belongs to: name, role and scope (city, province or station)."""
    return {"name": p.name, "role": p.role, "scope": p.scope}
