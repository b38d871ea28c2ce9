"""Series answers are bounded and paged (issue 15 item 11): at most ``limit`` rows (100,000
at most) per answer, streamed in chunks, and ``next`` continues the range; following every
``next`` gives each row exactly once, and no aggregate bucket is split between pages."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

import api.routes.series as series_mod
from api.app import create_app
from api.auth import KeyStore, RateLimiter
from core.store import open_store
from core.wire import Reading

T0 = datetime(2026, 11, 20, tzinfo=timezone.utc)
STATIONS = ("1462A", "1463A")


@pytest.fixture(scope="module")
def env(tmp_path_factory, catalogue):
    d = tmp_path_factory.mktemp("pages")
    store = open_store(f"duckdb://{d / 's.duckdb'}", catalogue)
    store.write([Reading(st, "xian", "air", T0 + timedelta(hours=h), "PT1H",
                         {"pm25": float(h)}) for st in STATIONS for h in range(72)])
    keys = KeyStore(f"sqlite:///{d / 'k.db'}")
    key = keys.create("t", "inspector")[1]
    client = TestClient(create_app(store, catalogue, keys, limiter=RateLimiter(1000, 1000)))
    return client, {"Authorization": f"Bearer {key}"}


def _follow(client, h, url, params=None):
    pages = []
    while url:
        r = client.get(url, headers=h, params=params)
        assert r.status_code == 200, r.text
        params = None
        pages.append(r)
        nxt = r.json()["next"] if "json" in r.headers["content-type"] else \
            (r.headers.get("link", "").partition("<")[2].partition(">")[0] or None)
        if nxt:
            assert r.headers["link"] == f'<{nxt}>; rel="next"'
        url = nxt
    return pages


@pytest.mark.parametrize("limit", [5, 37, 144, 1000])
def test_raw_pages_give_every_row_once(env, limit):
    client, h = env
    q = {"stations": ",".join(STATIONS), "params": "pm25", "limit": limit,
         "start": T0.isoformat(), "end": (T0 + timedelta(hours=72)).isoformat()}
    pages = _follow(client, h, "/series", q)
    rows = [(r["station"], r["time"]) for p in pages for r in p.json()["rows"]]
    assert all(p.json()["count"] <= limit for p in pages)
    assert len(rows) == len(set(rows)) == 144
    assert len(pages) == (1 if limit >= 144 else len(pages)) and \
        (limit >= 144 or len(pages) > 1)
    assert pages[-1].json()["next"] is None


def test_csv_pages_follow_the_link_header(env):
    client, h = env
    q = {"stations": "1462A", "params": "pm25", "limit": 10, "format": "csv",
         "start": T0.isoformat(), "end": (T0 + timedelta(hours=72)).isoformat()}
    pages = _follow(client, h, "/series", q)
    lines = [ln for p in pages for ln in p.text.strip().splitlines()[1:]]
    assert len(pages) > 1 and len(lines) == len(set(lines)) == 72


@pytest.mark.parametrize("every, by, limit, total", [
    ("1h", "station", 7, 144), ("1d", "city", 1, 4), ("1d", "station", 3, 8)])
def test_aggregate_pages_split_no_bucket(env, every, by, limit, total):
    client, h = env
    q = {"cities": "xian", "params": "pm25", "every": every, "by": by, "limit": limit,
         "start": "2026-11-20T05:30:00+08:00", "end": "2026-11-23T08:00:00+08:00"}
    if by == "station":
        q = {**q, "stations": ",".join(STATIONS)}
        del q["cities"]
    pages = _follow(client, h, "/series", q)
    rows = [r for p in pages for r in p.json()["rows"]]
    key = "station" if by == "station" else "city"
    assert len({(r[key], r["time"]) for r in rows}) == len(rows) == total
    assert sum(r["pm25_count"] for r in rows) == (144 if by == "station" else 144)


def test_json_is_streamed_in_chunks(env, monkeypatch):
    client, h = env
    monkeypatch.setattr(series_mod, "CHUNK", 10)
    seen = []
    real = series_mod.rows_json
    monkeypatch.setattr(series_mod, "rows_json", lambda df: seen.append(len(df)) or real(df))
    r = client.get("/series", headers=h, params={
        "stations": "1462A", "params": "pm25", "start": T0.isoformat(),
        "end": (T0 + timedelta(hours=72)).isoformat()})
    body = json.loads(r.text)
    assert body["count"] == 72 and len(body["rows"]) == 72 and body["next"] is None
    assert seen == [10] * 7 + [2]
    assert "content-length" not in r.headers


def test_a_row_cap_above_the_page_is_refused(env):
    client, h = env
    r = client.get("/series", headers=h, params={"limit": 1_000_000})
    assert r.status_code == 422
