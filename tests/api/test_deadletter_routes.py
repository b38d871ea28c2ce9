"""Dead-letter routes over a dead-letter table written by ingest's own writer: filters,
payloads, bad inputs (no SQL reaches the state file), 503 when unconfigured, role x route."""
from __future__ import annotations

import base64
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import KeyStore, RateLimiter
from core.store import open_store
from ingest import DeadLetter
from core.deadletters import DeadLetters, connect

ROLES = ["station", "inspector", "city-team", "bureau", "admin"]
SCOPES = {"station": "1462A", "city-team": "xian", "bureau": "Shaanxi"}
T = datetime(2026, 12, 1, tzinfo=timezone.utc).timestamp()
LETTERS = [
    DeadLetter("fenwei/v1/xian/air/1462A/readings", "malformed_json", "line 1", b"{oops",
               "1462A", T),
    DeadLetter("fenwei/v1/xian/air/1462A/readings", "flood", "bucket empty", b'{"v":1}',
               "1462A", T + 3600),
    DeadLetter("fenwei/v1/xian/air/XX/readings", "unknown_station", "XX", b'{"v":1,"station":"XX"}',
               "XX", T + 7200),
]


@pytest.fixture(scope="module")
def env(tmp_path_factory, catalogue):
    d = tmp_path_factory.mktemp("dl")
    path = d / "ingest-state.sqlite"
    DeadLetters(connect(path)).add(LETTERS)
    keys = KeyStore(f"sqlite:///{d / 'k.db'}")
    tokens = {r: keys.create(f"t-{r}", r, SCOPES.get(r))[1] for r in ROLES}
    store = open_store("duckdb://:memory:", catalogue)
    client = TestClient(create_app(store, catalogue, keys, limiter=RateLimiter(1000, 1000),
                                   dead_letters_path=path))
    bare = TestClient(create_app(store, catalogue, keys, limiter=RateLimiter(1000, 1000)))
    return client, bare, tokens


def H(tokens, role):
    if role is None:
        return {}
    if role == "bad":
        return {"Authorization": "Bearer fw_not-a-key"}
    return {"Authorization": f"Bearer {tokens[role]}"}


EXPECT = {None: 401, "bad": 401, "station": 403, "city-team": 403, "bureau": 403,
          "inspector": 200, "admin": 200}


@pytest.mark.parametrize("route", ["/dead-letters", "/dead-letters/counts",
                                   "/dead-letters?reason=flood&payload=true"])
@pytest.mark.parametrize("role", list(EXPECT))
def test_access(env, route, role):
    client, _, tokens = env
    r = client.get(route, headers=H(tokens, role))
    assert r.status_code == EXPECT[role], r.text
    if r.status_code == 403:
        assert "inspector" in r.json()["detail"]


def test_newest_first_with_reason_text_and_cst_times(env):
    client, _, tokens = env
    body = client.get("/dead-letters", headers=H(tokens, "inspector")).json()
    assert body["count"] == 3
    assert [r["reason"] for r in body["rows"]] == ["unknown_station", "flood", "malformed_json"]
    last = body["rows"][-1]
    assert last["received_at"] == "2026-12-01T08:00:00+08:00" and last["payload_size"] == 5
    assert last["reason_text"] == "payload is not valid JSON" and last["payload_b64"] is None


@pytest.mark.parametrize("query,reasons", [
    ({"reason": "flood"}, ["flood"]),
    ({"station": "1462A"}, ["flood", "malformed_json"]),
    ({"station": "1462A", "reason": "flood"}, ["flood"]),
    ({"since": "2026-12-01T09:00:00+08:00"}, ["unknown_station", "flood"]),
    ({"since": "2026-12-01T09:00:00"}, ["unknown_station", "flood"]),  # no offset: CST
    ({"limit": "1"}, ["unknown_station"]),
    ({"station": "1463A"}, []),
    ({"reason": "oversize"}, []),
])
def test_filters(env, query, reasons):
    client, _, tokens = env
    rows = client.get("/dead-letters", headers=H(tokens, "admin"), params=query).json()["rows"]
    assert [r["reason"] for r in rows] == reasons


def test_payload_is_base64_on_request(env):
    client, _, tokens = env
    rows = client.get("/dead-letters", headers=H(tokens, "inspector"),
                      params={"reason": "malformed_json", "payload": "true"}).json()["rows"]
    assert base64.b64decode(rows[0]["payload_b64"]) == b"{oops"


def test_counts(env):
    client, _, tokens = env
    counts = client.get("/dead-letters/counts", headers=H(tokens, "inspector")).json()
    assert counts == {"flood": 1, "malformed_json": 1, "unknown_station": 1}


@pytest.mark.parametrize("query", [
    {"reason": "nonsense"},
    {"reason": "flood' OR '1'='1"},
    {"station": "1462A' OR '1'='1"},
    {"station": "a" * 65},
    {"since": "yesterday"},
    {"since": "0001-01-01T00:00:00+14:00"},
    {"limit": "0"},
    {"limit": "1001"},
    {"limit": "200", "payload": "true"},
])
def test_bad_inputs_are_422(env, query):
    client, _, tokens = env
    r = client.get("/dead-letters", headers=H(tokens, "inspector"), params=query)
    assert r.status_code == 422, r.text
    assert r.json()["detail"]


def test_unconfigured_is_503_and_missing_file_is_empty(env, catalogue, tmp_path):
    _, bare, tokens = env
    r = bare.get("/dead-letters", headers=H(tokens, "inspector"))
    assert r.status_code == 503 and "not configured" in r.json()["detail"]
    keys = KeyStore(f"sqlite:///{tmp_path / 'k.db'}")
    h = {"Authorization": f"Bearer {keys.create('i', 'inspector')[1]}"}
    app = create_app(open_store("duckdb://:memory:", catalogue), catalogue, keys,
                     dead_letters_path=tmp_path / "none.sqlite")
    assert TestClient(app).get("/dead-letters", headers=h).json() == {"count": 0, "rows": []}
