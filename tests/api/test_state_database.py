"""The API and the alert service as separate "processes" sharing only the state database
(real PostgreSQL): the API app comes from ``api.build_app`` on the state URL and holds no
alert service; the AlertService (its own engine, dispatcher and clock) is another object.
One test runs ``fenwei api run`` as a real subprocess."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from fastapi.testclient import TestClient

from alerts import AlertService, AlertSettings, ManualClock, packaged_rules
from api import build_app
from api.auth import KeyStore
from core.localservers import free_port
from core.settings import load_settings
from core.wire import Reading

T0 = datetime(2026, 12, 10, 0, tzinfo=timezone.utc)
PM25 = {"id": "pm25-st", "type": "threshold", "kind": "air.realtime",
        "title_zh": "PM2.5 超标", "title_en": "PM2.5 exceedance", "parameter": "pm25",
        "per": "station", "duration": "1h",
        "levels": [{"level": "red", "above": 300, "clear_below": 200}]}
STATIONS = {"xian": "1462A", "baoji": "SIM-BAOJI-01"}


def _rules() -> dict:
    """The packaged regional rule (for prompts) and one station threshold rule."""
    doc = packaged_rules()
    doc["rule"] = [r for r in doc["rule"] if r["type"] == "air_regional"] + [PM25]
    return doc


class Receiver:
    """A real webhook endpoint recording JSON bodies (the catch-all recipient)."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        owner = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                owner.bodies.append(json.loads(raw))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, alert_id: str) -> list[str]:
        return [b["event"] for b in list(self.bodies) if b["alert_id"] == alert_id]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_until(pred, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return bool(pred())


@pytest.fixture
def world(pg_url, tmp_path, catalogue):
    """(alert service, API client, keys, receiver, clock) on one PostgreSQL state database."""
    receiver = Receiver()
    clock = ManualClock(T0 + timedelta(hours=2, minutes=20))   # live, not retrospective
    svc = AlertService(AlertSettings(state_url=pg_url, mqtt_enabled=False,
                                     poll_interval_s=0.05), rules=_rules(), clock=clock,
                       rng=random.Random(1), extra_webhook=receiver.url)
    svc.start(dispatch=True, schedule=False)
    settings = load_settings(state_url=pg_url, data_dir=tmp_path,
                             store_url=f"duckdb:///{tmp_path / 'store.duckdb'}")
    # the API's own objects on the same URL: its alert state shares nothing with ``svc``
    app = build_app(settings, clock=clock, catalogue=catalogue, rules=_rules(),
                    extra_webhook=receiver.url,
                    alert_settings=AlertSettings(mqtt_enabled=False))
    assert app.state.alerts is not svc and app.state.alerts.engine is not svc.engine
    keys = KeyStore(pg_url)
    tokens = {r: keys.create(f"t-{r}", r, {"city-team": "xian"}.get(r))[1]
              for r in ("inspector", "city-team", "admin")}
    with TestClient(app) as client:
        yield svc, client, tokens, receiver, clock
    svc.stop()
    receiver.close()


def H(tokens, role):
    return {"Authorization": f"Bearer {tokens[role]}"}


def _raise(svc, city: str, hours=range(3)) -> None:
    svc.ingest([Reading(STATIONS[city], city, "air", T0 + timedelta(hours=h), "PT1H",
                        {"pm25": 350.0}) for h in hours])


def _alert(client, tokens, city) -> dict:
    (a,) = client.get("/alerts", headers=H(tokens, "inspector"), params={"city": city}).json()
    return a


def test_alert_of_the_service_is_listed_in_the_feed_and_streamed(world):
    svc, client, tokens, _, _ = world
    got: list[str] = []
    t0 = None
    # the stream starts after the newest event at connect: the alert is raised once the
    # stream says it is connected (raising it earlier would rightly not be streamed)
    with client.stream("GET", f"/events?key={tokens['inspector']}") as resp:
        for line in resp.iter_lines():
            got.append(line)
            if line == ": connected" and t0 is None:
                t0 = time.monotonic()
                threading.Thread(target=_raise, args=(svc, "xian"), daemon=True).start()
            if line.startswith("data: "):
                break
            assert t0 is None or time.monotonic() - t0 < 30.0, got   # keep-alives every 10 s
    assert t0 is not None and time.monotonic() - t0 < 5.0
    event = json.loads(got[-1][6:])
    assert "event: issued" in got and event["subject"]["id"] == "station:1462A"
    a = _alert(client, tokens, "xian")
    assert (a["id"], a["level"], a["state"]) == (event["alert_id"], "red", "active")
    assert a["title_en"] == "PM2.5 exceedance"   # the API's rule set knows the rule
    feed = client.get("/cap/feed.atom", headers=H(tokens, "inspector"))
    assert feed.status_code == 200 and f"/alerts/{a['id']}/cap" in feed.text
    assert client.get(f"/alerts/{a['id']}/cap", headers=H(tokens, "inspector")).status_code \
        == 200


def test_api_acknowledgement_stops_the_services_reminders(world):
    svc, client, tokens, receiver, clock = world
    _raise(svc, "xian")
    _raise(svc, "baoji")
    xian, baoji = _alert(client, tokens, "xian"), _alert(client, tokens, "baoji")
    assert wait_until(lambda: receiver.events(xian["id"]) and receiver.events(baoji["id"]))
    r = client.post(f"/alerts/{xian['id']}/ack", headers=H(tokens, "city-team"),
                    json={"responder": "王工", "note": "启动应急"})
    assert r.status_code == 200, r.text
    assert svc.alert(xian["id"])["state"] == "acknowledged"
    # the API's outbox rows are sent by the service's dispatcher (its poll: nothing woke it)
    assert wait_until(lambda: "acknowledged" in receiver.events(xian["id"]))
    for _ in range(6):             # three hours: red reminders every 15 min, steps at 30m, 2h
        clock.advance(timedelta(minutes=30))
        svc.tick()
    assert wait_until(lambda: "escalated" in receiver.events(baoji["id"]))
    assert wait_until(lambda: all(r["status"] == "delivered" for r in svc.outbox()))
    after = receiver.events(xian["id"])
    after = after[after.index("acknowledged"):]
    assert not {"renotified", "escalated"} & set(after), after
    assert svc.alert(xian["id"])["escalation_step"] == 0


def test_regional_prompt_posted_to_the_api_is_delivered_by_the_service(world):
    svc, client, tokens, receiver, _ = world
    r = client.post("/regional-prompts", headers=H(tokens, "admin"),
                    json={"level": "orange", "cities": ["xian", "baoji"], "note": "区域联动"})
    assert r.status_code == 200, r.text
    alert_id = r.json()["id"]
    assert svc.alert(alert_id)["kind"] == "air.regional"
    def copies() -> set[str]:   # the catch-all's copies, one per recipient meant
        return {b["recipient"]["id"] for b in list(receiver.bodies)
                if b["alert_id"] == alert_id and b["event"] == "issued"}
    assert wait_until(lambda: {"team-xian", "team-baoji"} <= copies()), copies()


def test_ecoflow_and_dead_letters_answer_from_settings(world):
    _, client, tokens, _, _ = world
    h = H(tokens, "admin")
    targets = client.get("/ecoflow/targets", headers=h)
    assert targets.status_code == 200 and targets.json()
    status = client.get("/ecoflow/status", headers=h)
    assert status.status_code == 200 and status.json()
    assert client.get("/ecoflow/targets/audit", headers=h).json()
    # no ingest state file yet: no dead letters, not "not configured"
    r = client.get("/dead-letters", headers=h)
    assert r.status_code == 200 and r.json() == {"count": 0, "rows": []}


def test_fenwei_api_run_subprocess_sees_alerts_of_another_process(pg_url, tmp_path):
    svc = AlertService(AlertSettings(state_url=pg_url, mqtt_enabled=False),
                       rules=_rules(), clock=ManualClock(T0 + timedelta(hours=2, minutes=20)))
    svc.start(dispatch=False, schedule=False)
    port = free_port()
    env = {**os.environ, "FENWEI_STATE_URL": pg_url, "FENWEI_DATA_DIR": str(tmp_path),
           "FENWEI_STORE_URL": f"duckdb:///{tmp_path / 'store.duckdb'}",
           "FENWEI_ALERTS_MQTT_ENABLED": "false"}
    env.pop("FENWEI_CONFIG", None)
    key = KeyStore(pg_url).create("t", "inspector")[1]
    fenwei = os.path.join(os.path.dirname(sys.executable), "fenwei")
    proc = subprocess.Popen([fenwei, "api", "run", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base, h = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {key}"}

        def up() -> bool:
            try:
                return httpx.get(f"{base}/health", timeout=1).status_code == 200
            except httpx.TransportError:
                return proc.poll() is not None   # exited: stop waiting
        assert wait_until(up, 60), "the API did not start"
        assert proc.poll() is None, proc.communicate()[1]
        assert httpx.get(f"{base}/alerts", headers=h).json() == []
        _raise(svc, "xian")
        rows = httpx.get(f"{base}/alerts", headers=h).json()
        assert [r["subject"] for r in rows] == ["station:1462A"]
        assert httpx.get(f"{base}/dead-letters", headers=h).status_code == 200
        assert httpx.get(f"{base}/ecoflow/targets", headers=h).status_code == 200
    finally:
        proc.terminate()
        proc.wait(20)
        svc.stop()


def test_event_cursor_sends_a_late_committed_lower_id_once():
    """Ids are taken at insert: row 2 may commit after row 3 was read. The cursor re-reads
    the rows seen less than ``settle_s`` ago and sends each id once, in order of arrival."""
    from api.routes.events import EventCursor
    visible: list[int] = []
    t = [0.0]
    cursor = EventCursor(lambda after, limit: [{"id": i} for i in sorted(visible)
                                               if i > after][:limit], 0, settle_s=5.0,
                         now=lambda: t[0])
    visible += [1, 3]
    assert [r["id"] for r in cursor.poll()] == [1, 3]
    t[0] = 1.0
    visible.append(2)                       # committed late
    assert [r["id"] for r in cursor.poll()] == [2]
    assert cursor.poll() == []
    t[0] = 10.0
    assert cursor.poll() == [] and cursor.floor == 3 and not cursor.sent
    visible.append(4)
    assert [r["id"] for r in cursor.poll()] == [4]


def test_build_app_refuses_an_unmigrated_state_database_when_told_not_to_migrate(tmp_path,
                                                                                 catalogue):
    from alerts.errors import ConfigError
    from api import ApiSettings
    settings = load_settings(state_url=f"sqlite:///{tmp_path / 'state.db'}", data_dir=tmp_path,
                             store_url=f"duckdb:///{tmp_path / 'store.duckdb'}")
    with pytest.raises(ConfigError, match="not migrated"):
        build_app(settings, catalogue=catalogue, api_settings=ApiSettings(migrate=False),
                  alert_settings=AlertSettings(mqtt_enabled=False))
    build_app(settings, catalogue=catalogue, alert_settings=AlertSettings(mqtt_enabled=False))
    build_app(settings, catalogue=catalogue, api_settings=ApiSettings(migrate=False),
              alert_settings=AlertSettings(mqtt_enabled=False))   # migrated now: accepted
