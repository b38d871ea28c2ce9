"""Alert routes over a real AlertService: list, detail+audit, ack by role and city, note,
cancel, CAP, Atom feed, SSE stream, /me."""
from __future__ import annotations

import json
import random
import threading
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from alerts import AlertService, AlertSettings, ManualClock
from api.app import create_app
from api.auth import KeyStore, RateLimiter
from core.store import open_store
from core.wire import Reading

T0 = datetime(2026, 12, 10, 0, tzinfo=timezone.utc)
RULES = {"rule": [{"id": "pm25-st", "type": "threshold", "kind": "air.realtime",
                   "title_zh": "PM2.5 超标", "title_en": "PM2.5 exceedance",
                   "parameter": "pm25", "per": "station", "duration": "1h",
                   "levels": [{"level": "red", "above": 300, "clear_below": 200}]}]}
SCOPES = {"station": "1462A", "city-team": "xian", "bureau": "Shaanxi"}


@pytest.fixture
def env(tmp_path, catalogue):
    clock = ManualClock(T0 + timedelta(hours=2, minutes=20))  # live, not retrospective
    svc = AlertService(AlertSettings(state_url=f"sqlite:///{tmp_path / 'a.db'}",
                                     mqtt_enabled=False), rules=RULES, clock=clock,
                       rng=random.Random(1))
    svc.start(dispatch=False, schedule=False)
    readings = [Reading(st, city, "air", T0 + timedelta(hours=h), "PT1H", {"pm25": 350.0})
                for st, city in (("1462A", "xian"), ("SIM-BAOJI-01", "baoji"))
                for h in range(3)]
    svc.ingest(readings)
    keys = KeyStore(f"sqlite:///{tmp_path / 'k.db'}")
    tokens = {r: keys.create(f"t-{r}", r, SCOPES.get(r))[1]
              for r in ("station", "inspector", "city-team", "bureau", "admin")}
    tokens["bureau-shanxi"] = keys.create("t-shanxi", "bureau", "Shanxi")[1]
    app = create_app(open_store("duckdb://:memory:", catalogue), catalogue, keys,
                     limiter=RateLimiter(1000, 1000), alert_service=svc,
                     clock=lambda: clock.now().timestamp())
    yield TestClient(app), tokens, svc
    svc.stop()


def H(tokens, role):
    return {"Authorization": f"Bearer {tokens[role]}"} if role else {}


def _alert_of(client, tokens, city):
    rows = client.get("/alerts", headers=H(tokens, "inspector"), params={"city": city}).json()
    assert len(rows) == 1, rows
    return rows[0]


def test_list_and_detail_with_audit(env):
    client, tokens, _ = env
    rows = client.get("/alerts", headers=H(tokens, "inspector")).json()
    assert {r["subject"] for r in rows} == {"station:1462A", "station:SIM-BAOJI-01"}
    a = _alert_of(client, tokens, "xian")
    assert a["level"] == "red" and a["state"] == "active" and a["cities"] == ["xian"]
    d = client.get(f"/alerts/{a['id']}", headers=H(tokens, "inspector")).json()
    assert d["audit"] and d["audit"][0]["alert_id"] == a["id"] and "evidence" in d
    assert client.get("/alerts?level=yellow", headers=H(tokens, "inspector")).json() == []
    assert client.get("/alerts/nope", headers=H(tokens, "inspector")).status_code == 404


@pytest.mark.parametrize("role,city,status", [
    (None, "xian", 401), ("station", "xian", 403), ("inspector", "xian", 403),
    ("city-team", "baoji", 403), ("bureau-shanxi", "xian", 403),
    ("city-team", "xian", 200), ("bureau", "baoji", 200), ("admin", "xian", 200)])
def test_ack_access_by_role_and_city(env, role, city, status):
    client, tokens, svc = env
    a = _alert_of(client, tokens, city)
    r = client.post(f"/alerts/{a['id']}/ack", headers=H(tokens, role),
                    json={"responder": "王工", "note": "启动应急"})
    assert r.status_code == status, r.text
    after = svc.alert(a["id"])
    assert (after["state"] == "acknowledged") == (status == 200)
    if status == 200:
        assert "王工" in after["ack_by"]


def test_ack_bad_body_note_and_cancel(env):
    client, tokens, svc = env
    a = _alert_of(client, tokens, "xian")
    h = H(tokens, "city-team")
    assert client.post(f"/alerts/{a['id']}/ack", headers=h, json={}).status_code == 422
    assert client.post(f"/alerts/{a['id']}/note", headers=h,
                       json={"note": "现场核查中"}).status_code == 200
    assert any(e["action"] == "note" for e in svc.audit(a["id"]))
    assert client.post(f"/alerts/{a['id']}/cancel", headers=h,
                       json={"reason": "仪器故障误报"}).status_code == 200
    assert client.post(f"/alerts/{a['id']}/cancel", headers=h,
                       json={"reason": "again"}).status_code == 409
    assert client.get("/alerts", headers=H(tokens, "inspector"),
                      params={"city": "xian"}).json() == []


def test_cap_and_atom_feed(env):
    client, tokens, _ = env
    a = _alert_of(client, tokens, "xian")
    r = client.get(f"/alerts/{a['id']}/cap", headers=H(tokens, "inspector"))
    assert r.status_code == 200, r.text
    assert "urn:oasis:names:tc:emergency:cap:1.2" in r.text and "<msgType>Alert" in r.text
    import xmlschema
    from alerts._cap import schema_path
    xmlschema.XMLSchema(str(schema_path())).validate(r.text)
    feed = client.get("/cap/feed.atom", headers=H(tokens, "inspector"))
    assert feed.status_code == 200 and feed.text.startswith("<?xml")
    assert f"/alerts/{a['id']}/cap" in feed.text
    # the feed is as of the service's clock (the simulator's in the demo), not the wall clock
    from xml.etree import ElementTree
    root = ElementTree.fromstring(feed.content)
    assert root.find("{http://www.w3.org/2005/Atom}updated").text == "2026-12-10T02:20:00+00:00"
    assert client.get("/cap/feed.atom").status_code == 401


def test_me(env):
    client, tokens, _ = env
    assert client.get("/me", headers=H(tokens, "city-team")).json() == {
        "name": "t-city-team", "role": "city-team", "scope": "xian"}
    assert client.get("/me").status_code == 401


def test_sse_stream_delivers_events_from_the_state_database(env):
    """Events are the broadcast outbox rows, read from the database (not an in-process
    broadcaster): an acknowledgement made after the stream opened reaches it, named and
    numbered; ``Last-Event-ID`` resumes after that row."""
    client, tokens, svc = env
    assert client.get("/events").status_code == 401
    assert client.get(f"/events?key={tokens['station']}").status_code == 403
    a = _alert_of(client, tokens, "xian")

    def ack_soon():
        import time
        time.sleep(0.5)
        svc.acknowledge(a["id"], "王工")
    threading.Thread(target=ack_soon, daemon=True).start()
    got = _first_event(client, f"/events?key={tokens['inspector']}")
    assert got["event"] == "acknowledged" and got["data"]["alert_id"] == a["id"]
    assert got["data"]["acknowledged_by"] == "王工" and got["data"]["sent_at"]
    issued = [r["id"] for r in svc.outbox() if r["channel"] == "sse" and r["event"] == "issued"
              and r["alert_id"] == a["id"]]
    again = _first_event(client, f"/events?key={tokens['inspector']}",
                         headers={"Last-Event-ID": str(issued[0] - 1)})
    assert again["id"] == str(issued[0]) and again["event"] == "issued"


def _first_event(client, url, headers=None) -> dict:
    frame: dict = {}
    with client.stream("GET", url, headers=headers) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        for line in resp.iter_lines():
            name, _, value = line.partition(": ")
            if name in ("id", "event"):
                frame[name] = value
            elif name == "data":
                frame["data"] = json.loads(value)
                return frame
    raise AssertionError("the stream ended without an event")


def test_alert_routes_answer_503_without_a_service(catalogue, tmp_path):
    keys = KeyStore(f"sqlite:///{tmp_path / 'k.db'}")
    key = keys.create("i", "inspector")[1]
    client = TestClient(create_app(open_store("duckdb://:memory:", catalogue), catalogue, keys))
    assert client.get("/alerts", headers={"Authorization": f"Bearer {key}"}).status_code == 503


@pytest.mark.parametrize("since, count", [
    ("2026-12-10T10:20:00", 1),          # no offset: CST, i.e. 02:20 UTC (the alerts opened then)
    ("2026-12-10T10:21:00", 0),
    ("2026-12-10T02:20:00+00:00", 1),
    ("2026-12-10T02:21:00Z", 0),
])
def test_alerts_since_reads_a_time_without_offset_as_cst(env, since, count):
    client, tokens, _ = env
    r = client.get("/alerts", headers=H(tokens, "inspector"),
                   params={"since": since, "city": "xian"})
    assert r.status_code == 200, r.text
    assert len(r.json()) == count


@pytest.mark.parametrize("since", ["yesterday", "10:20", "0001-01-01T00:00:00"])
def test_alerts_since_bad_values_are_422(env, since):
    client, tokens, _ = env
    r = client.get("/alerts", headers=H(tokens, "inspector"), params={"since": since})
    assert r.status_code == 422 and "since" in r.json()["detail"]


def test_alert_rows_link_a_city_warning_to_its_regional_warning(env):
    """A city warning whose level the Fen-Wei regional warning set carries ``regional`` (the
    air_warning rule writes it into the evidence); other alerts carry null."""
    import sqlalchemy as sa
    from alerts._db import alerts as alerts_table
    client, tokens, svc = env
    a = _alert_of(client, tokens, "xian")
    assert a["regional"] is None
    reg = {"alert_id": "r" * 32, "level": "orange", "subject": "region:fenwei",
           "source": "forecast", "issued_by": "rule"}
    with svc.engine.begin() as conn:
        conn.execute(alerts_table.update().where(alerts_table.c.id == a["id"]).values(
            evidence={"regional": reg, "basis": "regional"}))
    row = _alert_of(client, tokens, "xian")
    assert row["regional"] == {**reg, "raised": True, "url": None}
    assert _alert_of(client, tokens, "baoji")["regional"] is None
