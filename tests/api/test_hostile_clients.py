"""Anonymous and hostile clients (issue 15 item 10), keys and audit on real PostgreSQL: a
write is authenticated before its body is read, bodies are bounded, failed authentication is
rate-limited per address, and anonymous traffic grows no table or cache."""
from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import FailureLimiter, KeyStore, api_audit
from api.guard import MAX_BODY
from core.store import open_store

PROMPT = {"level": "red", "cities": ["xian"]}


@pytest.fixture
def env(pg_url, catalogue):
    keys = KeyStore(pg_url)
    admin = keys.create("t-admin", "admin")[1]
    app = create_app(open_store("duckdb://:memory:", catalogue), catalogue, keys)
    return app, keys, {"Authorization": f"Bearer {admin}"}


def _audit_rows(keys) -> int:
    with keys.engine.connect() as c:
        return c.execute(sa.select(sa.func.count()).select_from(api_audit)).scalar()


def _asgi_post(app, headers: dict, chunks: list[bytes]) -> tuple[int, int]:
    """POST /regional-prompts straight through ASGI: (status, body chunks the app read)."""
    read, sent = [0], []
    queue = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
             for i, c in enumerate(chunks)]

    async def receive():
        if not queue:
            return {"type": "http.disconnect"}
        read[0] += 1
        return queue.pop(0)

    async def send(message):
        sent.append(message)
    scope = {"type": "http", "method": "POST", "path": "/regional-prompts", "raw_path": b"",
             "query_string": b"", "root_path": "", "scheme": "http", "http_version": "1.1",
             "server": ("testserver", 80), "client": ("203.0.113.7", 5000),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    asyncio.run(app(scope, receive, send))
    return next(m["status"] for m in sent if m["type"] == "http.response.start"), read[0]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer fw_not-a-key"}],
                         ids=["keyless", "unknown-key"])
def test_a_keyless_write_is_refused_before_its_body_is_read(env, headers):
    app, keys, _ = env
    status, read = _asgi_post(app, {**headers, "Content-Type": "application/json"},
                              [b"{" * 65536] * 8)
    assert (status, read) == (401, 0)
    assert _audit_rows(keys) == 0   # anonymous traffic writes no audit row


def test_bodies_are_bounded(env):
    app, _, admin = env
    client = TestClient(app)
    big = b"x" * (MAX_BODY + 1)
    # a declared length over the bound: 413 at once, key or not
    assert client.post("/regional-prompts", content=big).status_code == 413
    assert client.post("/regional-prompts", content=big, headers=admin).status_code == 413
    # a streamed body with no length: 413 once the bound is passed
    status, read = _asgi_post(app, {**admin, "Content-Type": "application/json"},
                              [b" " * 65536] * 40)
    assert status == 413 and read <= MAX_BODY // 65536 + 1
    assert client.post("/ack", content=b"token=" + b"a" * 20000).status_code == 413


def test_only_known_keys_write_audit_rows(env):
    app, keys, admin = env
    client = TestClient(app)
    for _ in range(3):
        assert client.post("/regional-prompts", json=PROMPT).status_code == 401
    assert _audit_rows(keys) == 0
    assert client.post("/regional-prompts", json=PROMPT, headers=admin).status_code == 503
    assert _audit_rows(keys) == 1   # (no alert state here: 503, audited all the same)


def test_failed_authentication_is_rate_limited_per_address(env):
    app, keys, admin = env
    client = TestClient(app)
    lookups = []
    real = keys.lookup
    keys.lookup = lambda k: lookups.append(k) or real(k)
    bad = {"Authorization": "Bearer fw_guess"}
    codes = [client.get("/cities", headers=bad).status_code for _ in range(15)]
    assert codes == [401] * 10 + [429] * 5
    assert len(lookups) == 10            # a blocked address costs no key lookup
    r = client.post("/regional-prompts", json=PROMPT, headers=admin)
    assert r.status_code == 429 and "Retry-After" in r.headers   # the whole address waits
    other = TestClient(app, client=("198.51.100.9", 1234))
    assert other.get("/cities", headers=admin).status_code == 200
    assert keys._cache and all(p is not None for _, p in keys._cache.values())


def test_unknown_keys_are_not_cached_and_the_cache_is_bounded(env):
    app, keys, admin = env
    for i in range(50):
        assert keys.lookup(f"fw_guess-{i}") is None
    assert keys._cache == {}
    keys.CACHE_MAX = 3
    made = [keys.create(f"k{i}", "inspector")[1] for i in range(5)]
    for k in made:
        assert keys.lookup(k) is not None
    assert len(keys._cache) <= 3


def test_failure_limiter_refills_and_forgets():
    now = [0.0]
    lim = FailureLimiter(rate=0.5, burst=2, max_clients=3, clock=lambda: now[0])
    lim.failed("a")
    lim.failed("a")
    assert lim.blocked("a") and not lim.blocked("b")
    now[0] = 2.0
    assert not lim.blocked("a")
    for c in ("b", "c", "d", "e", "f"):
        lim.failed(c)
    assert len(lim) <= 3
