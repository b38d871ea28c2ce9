"""API keys and roles.

Keys are random tokens shown once at creation and stored only as SHA-256 hashes.
Roles: ``station`` (publish-side health only), ``inspector`` (read everything),
``city-team`` (read; acknowledge alerts of its own city), ``bureau`` (its province),
``admin`` (keys, targets, recipients, regional prompts).
"""
from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa

from core.statedb import UTC, make_engine

ROLES = ("station", "inspector", "city-team", "bureau", "admin")
_meta = sa.MetaData()
api_keys = sa.Table(
    "api_keys", _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("scope", sa.String(40), nullable=True),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(12), nullable=False),
    sa.Column("created_at", UTC, nullable=False),
    sa.Column("revoked_at", UTC, nullable=True),
)
api_audit = sa.Table(
    "api_audit", _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTC, nullable=False),
    sa.Column("key_id", sa.Integer, nullable=True),
    sa.Column("key_name", sa.String(100), nullable=True),
    sa.Column("method", sa.String(10), nullable=False),
    sa.Column("path", sa.String(500), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
)


class KeyError_(ValueError):
    """A key request is invalid (unknown role, missing scope)."""


@dataclass(frozen=True)
class Principal:
    key_id: int
    name: str
    role: str
    scope: str | None  # city slug for city-team, province for bureau, station id for station


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyStore:
    """API keys in the state database (SQLite or PostgreSQL). Valid keys are cached for 5 s
    (at most ``CACHE_MAX`` of them); unknown keys are not cached, so anonymous guessing grows
    nothing here (it is rate-limited per address by :class:`FailureLimiter`)."""

    CACHE_MAX = 1024

    def __init__(self, state_url: str) -> None:
        self.engine = make_engine(state_url)
        _meta.create_all(self.engine)
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def create(self, name: str, role: str, scope: str | None = None) -> tuple[int, str]:
        if role not in ROLES:
            raise KeyError_(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
        if role in ("city-team", "bureau") and not scope:
            raise KeyError_(f"role {role} needs a scope (--city or --province)")
        key = "fw_" + secrets.token_urlsafe(32)
        with self.engine.begin() as c:
            kid = c.execute(api_keys.insert().values(
                name=name, role=role, scope=scope, key_hash=_hash(key), prefix=key[:10],
                created_at=datetime.now(timezone.utc))).inserted_primary_key[0]
        return kid, key

    def revoke(self, key_id: int) -> bool:
        with self.engine.begin() as c:
            n = c.execute(api_keys.update().where(api_keys.c.id == key_id,
                                                  api_keys.c.revoked_at.is_(None))
                          .values(revoked_at=datetime.now(timezone.utc))).rowcount
        with self._lock:
            self._cache.clear()
        return n == 1

    def list(self) -> list[dict]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(api_keys.c.id, api_keys.c.name, api_keys.c.role,
                                       api_keys.c.scope, api_keys.c.prefix,
                                       api_keys.c.created_at, api_keys.c.revoked_at)
                             .order_by(api_keys.c.id)).mappings().all()
        return [dict(r) for r in rows]

    def lookup(self, key: str) -> Principal | None:
        h = _hash(key)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(h)
            if hit and now - hit[0] < 5.0:
                return hit[1]
        with self.engine.connect() as c:
            row = c.execute(sa.select(api_keys).where(api_keys.c.key_hash == h,
                                                      api_keys.c.revoked_at.is_(None))
                            ).mappings().first()
        if row is None:
            return None
        p = Principal(row["id"], row["name"], row["role"], row["scope"])
        with self._lock:
            if len(self._cache) >= self.CACHE_MAX:
                self._cache.clear()
            self._cache[h] = (now, p)
        return p

    def audit(self, p: Principal, method: str, path: str, status: int) -> None:
        """One row per write by a known key (anonymous requests write nothing)."""
        with self.engine.begin() as c:
            c.execute(api_audit.insert().values(
                at=datetime.now(timezone.utc), key_id=p.key_id if p else None,
                key_name=p.name if p else None, method=method, path=path[:500], status=status))

    def audit_log(self, limit: int = 100) -> list[dict]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(api_audit).order_by(api_audit.c.id.desc())
                             .limit(limit)).mappings().all()
        return [dict(r) for r in rows]


class RateLimiter:
    """Token bucket per key: ``rate`` requests per second, bursts up to ``burst``."""

    def __init__(self, rate: float = 20.0, burst: int = 60, clock=time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key_id: int) -> bool:
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            ok = tokens >= 1
            self._buckets[key_id] = (tokens - 1 if ok else tokens, now)
        return ok


class FailureLimiter:
    """Failed authentications per client address: ``burst`` failures, then one more every
    ``1 / rate`` seconds; a blocked address gets 429 before its key is looked up. At most
    ``max_clients`` addresses are tracked (full buckets are forgotten first, then all)."""

    def __init__(self, rate: float = 0.2, burst: int = 10, max_clients: int = 10_000,
                 clock=time.monotonic) -> None:
        self.rate, self.burst, self.max_clients, self.clock = rate, burst, max_clients, clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _tokens(self, client: str, now: float) -> float:
        tokens, last = self._buckets.get(client, (float(self.burst), now))
        return min(self.burst, tokens + (now - last) * self.rate)

    def blocked(self, client: str) -> bool:
        with self._lock:
            return self._tokens(client, self.clock()) < 1

    def failed(self, client: str) -> None:
        now = self.clock()
        with self._lock:
            tokens = self._tokens(client, now)
            if client not in self._buckets and len(self._buckets) >= self.max_clients:
                self._forget(now)
            self._buckets[client] = (max(tokens - 1, 0.0), now)

    def _forget(self, now: float) -> None:
        for c in [c for c in self._buckets if self._tokens(c, now) >= self.burst]:
            del self._buckets[c]
        if len(self._buckets) >= self.max_clients:
            self._buckets.clear()

    def __len__(self) -> int:
        return len(self._buckets)
