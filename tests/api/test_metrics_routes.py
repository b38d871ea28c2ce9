"""GET /metrics: Prometheus text, requests by route template and status, latency histogram,
one registry per app, admin key only."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.auth import KeyStore, RateLimiter
from core.store import open_store

ROLES = ["station", "inspector", "city-team", "bureau", "admin"]
SCOPES = {"station": "1462A", "city-team": "xian", "bureau": "Shaanxi"}


@pytest.fixture
def env(tmp_path, catalogue):
    keys = KeyStore(f"sqlite:///{tmp_path / 'k.db'}")
    tokens = {r: keys.create(f"t-{r}", r, SCOPES.get(r))[1] for r in ROLES}
    app = create_app(open_store("duckdb://:memory:", catalogue), catalogue, keys,
                     limiter=RateLimiter(1000, 1000))
    return TestClient(app), {r: {"Authorization": f"Bearer {t}"} for r, t in tokens.items()}


def _samples(text: str) -> dict:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


@pytest.mark.parametrize("role,status", [(None, 401), ("station", 403), ("inspector", 403),
                                         ("city-team", 403), ("bureau", 403), ("admin", 200)])
def test_admin_only(env, role, status):
    client, h = env
    r = client.get("/metrics", headers=h.get(role, {}))
    assert r.status_code == status, r.text


def test_counts_by_route_template_and_status(env):
    client, h = env
    for path in ("/stations/1462A", "/stations/1463A", "/stations/XX"):
        client.get(path, headers=h["inspector"])
    client.get("/cities")                       # 401
    client.get("/no/such/path/123")             # 404, unmatched
    r = client.get("/metrics", headers=h["admin"])
    assert r.headers["content-type"].startswith("text/plain")
    s = _samples(r.text)
    key = "fenwei_api_requests_total"
    route = lambda m, p, st: (key, (("method", m), ("route", p), ("status", st)))  # noqa: E731
    assert s[route("GET", "/stations/{station_id}", "200")] == 2
    assert s[route("GET", "/stations/{station_id}", "404")] == 1
    assert s[route("GET", "/cities", "401")] == 1
    assert s[route("GET", "<unmatched>", "404")] == 1
    count = ("fenwei_api_request_seconds_count", (("method", "GET"),
                                                  ("route", "/stations/{station_id}")))
    assert s[count] == 3


def test_each_app_has_its_own_registry(env, catalogue, tmp_path):
    client, h = env
    client.get("/health")
    other = create_app(open_store("duckdb://:memory:", catalogue), catalogue,
                       KeyStore(f"sqlite:///{tmp_path / 'k2.db'}"))
    assert other.state.metrics.registry is not client.app.state.metrics.registry
    assert other.state.metrics.registry.get_sample_value(
        "fenwei_api_requests_total", {"method": "GET", "route": "/health", "status": "200"}) \
        is None
