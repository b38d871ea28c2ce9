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
    """The caller identified by ``Authorization: Bearer <key>``; 401 without a valid key,
    429 when this client address failed too often (or the key's rate is exceeded)."""
    p = getattr(request.state, "principal", None)   # writes: the guard authenticated it
    if p is None:
        p = authenticate(request.app, request.headers.get("authorization", ""),
                         client_address(request.scope))
    if not request.app.state.limiter.allow(p.key_id):
        raise HTTPException(429, "rate limit exceeded for this key",
                            headers={"Retry-After": "1"})
    request.state.principal = p
    return p


def client_address(scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


def authenticate(app, header: str, client: str) -> Principal:
    """The key's principal; HTTPException 401 (a wrong key counts against ``client``) or 429
    (``client`` failed too often: refused before any lookup)."""
    failures = app.state.auth_failures
    if failures.blocked(client):
        raise HTTPException(429, "too many failed authentications from this address",
                            headers={"Retry-After": str(int(1 / failures.rate) + 1)})
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():   # no guess, no lookup: not counted
        raise HTTPException(401, "missing API key: send 'Authorization: Bearer <key>'",
                            headers={"WWW-Authenticate": "Bearer"})
    p = app.state.keys.lookup(key.strip()) if len(key) <= 200 else None
    if p is None:
        failures.failed(client)
        raise HTTPException(401, "invalid or revoked API key",
                            headers={"WWW-Authenticate": "Bearer"})
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
