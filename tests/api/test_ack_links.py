"""Acknowledgement links and rights (issue 15 items 8 and 9) on real PostgreSQL.

A link's token is good once, for the notification that carried it, at the alert's current
level, for the cities its recipient stands for; ``GET /ack`` only shows a page. A city team
acknowledges and cancels only for its own city; a multi-city alert is cancelled by its issuer
or an admin.
"""
from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from alerts import AlertService, AlertSettings, ManualClock
from alerts._ack import AckSigner
from alerts.errors import ConfigError
from api.app import create_app
from api.auth import KeyStore, RateLimiter
from core.store import open_store
from core.wire import Reading

T0 = datetime(2026, 12, 10, 0, tzinfo=timezone.utc)
SECRET = "test-ack-secret-0123456789abcdef"
RULES = {"rule": [
    {"id": "pm25-st", "type": "threshold", "kind": "air.realtime", "title_zh": "PM2.5 超标",
     "title_en": "PM2.5 exceedance", "parameter": "pm25", "per": "station", "duration": "1h",
     "levels": [{"level": "yellow", "above": 150, "clear_below": 100},
                {"level": "red", "above": 300, "clear_below": 200}]},
    {"id": "air-regional", "type": "air_regional", "kind": "air.regional",
     "title_zh": "区域应急联动", "title_en": "Regional joint warning"}]}
TEAMS = {"xian": "Shaanxi", "linfen": "Shanxi", "luoyang": "Henan"}


def _recipients(tmp_path) -> str:
    hook = [{"type": "webhook", "url": "http://127.0.0.1:9/hook"}]
    rows = [{"id": f"team-{c}", "role": "city_team", "name_zh": c, "name_en": c, "city": c,
             "channels": hook} for c in TEAMS]
    rows += [{"id": "env-shaanxi", "role": "province_env", "name_zh": "陕西", "name_en": "Shaanxi",
              "province": "Shaanxi", "channels": hook},
             {"id": "coordinator", "role": "coordinator", "name_zh": "协调", "name_en": "coord",
              "channels": hook}]
    path = tmp_path / "recipients.json"
    path.write_text(json.dumps({"recipients": rows}), encoding="utf-8")
    return str(path)


@pytest.fixture
def env(pg_url, tmp_path, catalogue):
    clock = ManualClock(T0 + timedelta(hours=2, minutes=20))
    svc = AlertService(AlertSettings(state_url=pg_url, mqtt_enabled=False, ack_secret=SECRET,
                                     ack_base_url="https://alerts.example/ack"),
                       rules=RULES, recipients=_recipients(tmp_path), clock=clock,
                       rng=random.Random(1))
    svc.start(dispatch=False, schedule=False)
    keys = KeyStore(pg_url)
    tokens = {"admin": keys.create("t-admin", "admin")[1],
              "inspector": keys.create("t-insp", "inspector")[1],
              "bureau": keys.create("t-shaanxi", "bureau", "Shaanxi")[1]}
    tokens.update({c: keys.create(f"t-{c}", "city-team", c)[1] for c in TEAMS})
    app = create_app(open_store("duckdb://:memory:", catalogue), catalogue, keys,
                     limiter=RateLimiter(1000, 1000), alert_service=svc,
                     clock=lambda: clock.now().timestamp())
    yield TestClient(app), tokens, svc, clock
    svc.stop()


def H(tokens, who):
    return {"Authorization": f"Bearer {tokens[who]}"} if who else {}


def _raise(svc, value=350.0, hours=range(3)):
    svc.ingest([Reading("1462A", "xian", "air", T0 + timedelta(hours=h), "PT1H",
                        {"pm25": value}) for h in hours])
    (a,) = [a for a in svc.alerts(open_only=True) if a["subject"] == "station:1462A"]
    return a


def _token(svc, alert_id, recipient, event=None) -> str:
    rows = [r for r in svc.outbox(alert_id=alert_id) if r["recipient_id"] == recipient
            and "ack_token" in r["body"] and event in (None, r["event"])]
    return rows[-1]["body"]["ack_token"]


def test_get_shows_a_page_and_changes_nothing_post_acknowledges_once(env):
    client, _, svc, _ = env
    a = _raise(svc)
    token = _token(svc, a["id"], "team-xian")
    url = svc.outbox(alert_id=a["id"])[0]["body"]["ack_url"]
    assert url == f"https://alerts.example/ack?token={token}"
    for _ in range(3):   # a link scanner fetching the link, more than once
        page = client.get("/ack", params={"token": token})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert '<form method="post" action="ack">' in page.text and token in page.text
        assert page.headers["cache-control"] == "no-store"
    assert svc.alert(a["id"])["state"] == "active"
    r = client.post("/ack", data={"token": token, "responder": "王工", "note": "启动应急"})
    assert r.status_code == 200 and "Acknowledged" in r.text, r.text
    after = svc.alert(a["id"])
    assert after["state"] == "acknowledged" and after["ack_by"] == "王工"
    again = client.post("/ack", json={"token": token, "responder": "王工"})
    assert again.status_code == 403 and "already used" in again.json()["detail"]
    spent = [e for e in svc.audit(a["id"]) if e["evidence"].get("token")]
    assert [e["action"] for e in spent] == ["acknowledged"]   # the token, recorded once


def _forged(svc, a):
    return AckSigner("dev-only-ack-secret").sign(a["id"], "team-xian",
                                                 T0 + timedelta(days=3))


def _expired(svc, a):
    return AckSigner(SECRET).sign(a["id"], "team-xian", T0)


def _never_sent(svc, a):   # our secret, but no notification carried it
    return AckSigner(SECRET).sign(a["id"], "team-xian", T0 + timedelta(days=2, seconds=7))


@pytest.mark.parametrize("make, status, words", [
    pytest.param(_forged, 403, "signature", id="forged-with-the-old-default-secret"),
    pytest.param(_expired, 403, "expired", id="expired"),
    pytest.param(lambda svc, a: "not.a.token", 403, "malformed", id="malformed"),
    pytest.param(lambda svc, a: "x" * 5000, 403, "malformed", id="oversized"),
    pytest.param(_never_sent, 403, "not sent", id="signed-but-never-sent"),
    pytest.param(lambda svc, a: AckSigner(SECRET).sign("no-such-alert", "team-xian",
                                                       T0 + timedelta(days=3)),
                 404, "no alert", id="unknown-alert"),
])
def test_bad_tokens_are_4xx_on_get_and_post(env, make, status, words):
    client, _, svc, _ = env
    a = _raise(svc)
    token = make(svc, a)
    if words != "not sent":
        page = client.get("/ack", params={"token": token})
        assert page.status_code == status and words in page.text, page.text
    r = client.post("/ack", json={"token": token, "responder": "x"})
    assert r.status_code == status and words in r.json()["detail"], r.text
    assert svc.alert(a["id"])["state"] == "active"


def test_cancelled_alert_is_409_not_500(env):
    client, tokens, svc, _ = env
    a = _raise(svc)
    token = _token(svc, a["id"], "team-xian")
    svc.cancel(a["id"], "ops", "sensor fault")
    assert client.get("/ack", params={"token": token}).status_code == 409
    r = client.post("/ack", data={"token": token, "responder": "x"})
    assert r.status_code == 409 and "cancelled" in r.text


def test_an_old_level_token_does_not_acknowledge_the_upgrade(env):
    client, _, svc, clock = env
    a = _raise(svc, value=200.0)                     # yellow
    assert svc.alert(a["id"])["level"] == "yellow"
    yellow = _token(svc, a["id"], "team-xian")
    svc.ingest([Reading("1462A", "xian", "air", T0 + timedelta(hours=h), "PT1H",
                        {"pm25": 350.0}) for h in range(3, 6)])
    assert svc.alert(a["id"])["level"] == "red"
    r = client.post("/ack", json={"token": yellow, "responder": "x"})
    assert r.status_code == 403 and "yellow" in r.json()["detail"], r.text
    assert svc.alert(a["id"])["state"] == "active"
    red = _token(svc, a["id"], "team-xian", event="updated")
    assert client.post("/ack", json={"token": red, "responder": "x"}).json()["acknowledged"]


def _prompt(client, tokens) -> dict:
    r = client.post("/regional-prompts", headers=H(tokens, "admin"),
                    json={"level": "red", "cities": list(TEAMS), "note": "国家中心通报"})
    assert r.status_code == 200, r.text
    return r.json()


def test_one_city_acknowledges_only_for_itself(env):
    client, tokens, svc, _ = env
    a = _prompt(client, tokens)
    token = _token(svc, a["id"], "team-xian")
    r = client.post("/ack", json={"token": token, "responder": "西安值班"})
    assert r.json() == {"acknowledged": False, "alert_id": a["id"], "state": "active",
                        "acknowledged_cities": ["xian"]}
    # the Xi'an key cannot acknowledge for Linfen, nor cancel for everyone
    r = client.post(f"/alerts/{a['id']}/ack", headers=H(tokens, "xian"),
                    json={"responder": "西安"})
    assert r.status_code == 200 and svc.alert(a["id"])["state"] == "active"
    r = client.post(f"/alerts/{a['id']}/cancel", headers=H(tokens, "xian"),
                    json={"reason": "不适用"})
    assert r.status_code == 403 and "issuer or an admin" in r.json()["detail"]
    assert client.post(f"/alerts/{a['id']}/cancel", headers=H(tokens, "bureau"),
                       json={"reason": "x"}).status_code == 403   # Shaanxi only: not all
    r = client.post(f"/alerts/{a['id']}/ack", headers=H(tokens, "linfen"),
                    json={"responder": "临汾"})
    assert r.json()["acknowledged_cities"] == ["linfen", "xian"]
    assert svc.alert(a["id"])["state"] == "active"
    token = _token(svc, a["id"], "team-luoyang")
    assert client.post("/ack", json={"token": token, "responder": "洛阳"}).json()[
        "acknowledged"] is True
    assert svc.alert(a["id"])["state"] == "acknowledged"


def test_bureau_link_acknowledges_its_province_and_admin_cancels(env):
    client, tokens, svc, _ = env
    a = _prompt(client, tokens)
    token = _token(svc, a["id"], "env-shaanxi")
    assert client.post("/ack", json={"token": token, "responder": "省厅"}).json()[
        "acknowledged_cities"] == ["xian"]
    r = client.post(f"/alerts/{a['id']}/cancel", headers=H(tokens, "admin"),
                    json={"reason": "通报撤销"})
    assert r.status_code == 200 and svc.alert(a["id"])["state"] == "cancelled"


def test_coordinator_link_acknowledges_for_everyone(env):
    client, tokens, svc, _ = env
    a = _prompt(client, tokens)
    token = _token(svc, a["id"], "coordinator")
    assert client.post("/ack", json={"token": token, "responder": "协调"}).json()[
        "acknowledged"] is True


@pytest.mark.parametrize("who, cities, status", [
    (None, ["xian"], 401), ("inspector", ["xian"], 403), ("xian", ["xian"], 403),
    ("bureau", ["xian"], 403), ("admin", ["xian", "atlantis"], 422), ("admin", [], 422),
    ("admin", ["xian", "linfen"], 200)])
def test_regional_prompt_roles_and_unknown_cities(env, who, cities, status):
    client, tokens, svc, _ = env
    r = client.post("/regional-prompts", headers=H(tokens, who),
                    json={"level": "orange", "cities": cities})
    assert r.status_code == status, r.text
    if status == 422 and cities:
        assert "atlantis" in r.text
    opened = [a for a in svc.alerts(open_only=True) if a["kind"] == "air.regional"]
    assert len(opened) == (status == 200)


@pytest.mark.parametrize("values, ok", [
    ({"environment": "production"}, False),
    ({"environment": "production", "ack_secret": "dev-only-ack-secret"}, False),
    ({"environment": "staging", "ack_secret": "changeme"}, False),
    ({"environment": "production", "ack_secret": SECRET}, True),
    ({"environment": "production", "exercise": True}, True),    # a drill: random per run
    ({}, True),                                                 # development: random
])
def test_no_known_default_ack_secret(tmp_path, values, ok):
    s = AlertSettings(state_url=f"sqlite:///{tmp_path / 's.db'}", mqtt_url="mqtt://x:1",
                      **values)
    if not ok:
        with pytest.raises(ConfigError, match="ACK_SECRET"):
            s.resolved()
        return
    secret = s.resolved().ack_secret
    assert secret not in ("", "dev-only-ack-secret") and len(secret) >= 32
    assert secret == values.get("ack_secret", secret)
