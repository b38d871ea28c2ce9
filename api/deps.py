"""Shared dependencies as Annotated aliases: store, catalogue, the caller and its role."""
from __future__ import annotations

from typing import Annotated, Callable

from fastapi import Depends, HTTPException, Request

from core.catalogue import Catalogue
from core.store import Store

from .auth import KeyStore, Principal


def _cat(request: Request) -> Catalogue:
    return request.app.state.catalogue


def _store(request: Request) -> Store:
    return request.app.state.store


def _keys(request: Request) -> KeyStore:
    return request.app.state.keys


Cat = Annotated[Catalogue, Depends(_cat)]
StoreDep = Annotated[Store, Depends(_store)]
Keys = Annotated[KeyStore, Depends(_keys)]


def principal(request: Request) -> Principal:
    """The caller identified by ``Authorization: Bearer <key>``; 401 without a valid key."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise HTTPException(401, "missing API key: send 'Authorization: Bearer <key>'",
                            headers={"WWW-Authenticate": "Bearer"})
    p = request.app.state.keys.lookup(key.strip())
    if p is None:
        raise HTTPException(401, "invalid or revoked API key",
                            headers={"WWW-Authenticate": "Bearer"})
    if not request.app.state.limiter.allow(p.key_id):
        raise HTTPException(429, "rate limit exceeded for this key",
                            headers={"Retry-After": "1"})
    request.state.principal = p
    return p


def require(*roles: str) -> Callable[..., Principal]:
    """A dependency admitting only the given roles (admin always passes)."""
    allowed = set(roles) | {"admin"}

    def check(p: Annotated[Principal, Depends(principal)]) -> Principal:
        if p.role not in allowed:
            raise HTTPException(403, f"role {p.role!r} may not use this route "
                                     f"(needs one of: {', '.join(sorted(allowed))})")
        return p
    return check


READERS = ("inspector", "city-team", "bureau")
Reader = Annotated[Principal, Depends(require(*READERS))]
Admin = Annotated[Principal, Depends(require())]
AnyKey = Annotated[Principal, Depends(principal)]
