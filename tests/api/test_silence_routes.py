"""Silence routes: an admin silences anywhere, a city team only within its own city, a
bureau within its province; create, list, expire, delete, each in the silence's audit trail;
a silence made through the API holds the notification of a matching alert (real
AlertService on SQLite, injected clock)."""
from __future__ import annotations

import random
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
                   "parameter": "pm25", "per": "station", "duration": "1h",
                   "levels": [{"level": "red", "above": 300, "clear_below": 200}]}]}
SCOPES = {"station": "1462A", "city-team": "xian", "bureau": "Shaanxi"}


@pytest.fixture
def env(tmp_path, catalogue):
    clock = ManualClock(T0 + timedelta(hours=2, minutes=20))
    svc = AlertService(AlertSettings(state_url=f"sqlite:///{tmp_path / 'a.db'}",
                                     mqtt_enabled=False), rules=RULES, clock=clock,
                       rng=random.Random(1))
    svc.start(dispatch=False, schedule=False)
    keys = KeyStore(f"sqlite:///{tmp_path / 'k.db'}")
    tokens = {r: keys.create(f"t-{r}", r, SCOPES.get(r))[1]
              for r in ("station", "inspector", "city-team", "bureau", "admin")}
    app = create_app(open_store("duckdb://:memory:", catalogue), catalogue, keys,
                     limiter=RateLimiter(1000, 1000), alert_service=svc,
                     clock=lambda: clock.now().timestamp())
    yield TestClient(app), tokens, svc, clock
    svc.stop()


def H(tokens, role):
    return {"Authorization": f"Bearer {tokens[role]}"}


@pytest.mark.parametrize("role,city,status", [
    ("admin", "baoji", 201), ("admin", None, 201),
    ("city-team", "xian", 201), ("city-team", "baoji", 403), ("city-team", None, 403),
    ("bureau", "baoji", 201), ("bureau", "linfen", 403),          # Linfen is in Shanxi
    ("inspector", "xian", 403), ("station", "xian", 403),
])
def test_who_may_silence_where(env, role, city, status):
    client, tokens, _, _ = env
    r = client.post("/silences", headers=H(tokens, role),
                    json={"reason": "维护", "city": city, "kind": "air.realtime"})
    assert r.status_code == status, r.text


def test_create_list_expire_delete_audited(env):
    client, tokens, svc, clock = env
    r = client.post("/silences", headers=H(tokens, "city-team"),
                    json={"reason": "站点维护", "city": "xian", "station": "1462A",
                          "duration_minutes": 90})
    assert r.status_code == 201, r.text
    s = r.json()
    assert (s["city"], s["station"], s["status"], s["created_by"]) == (
        "xian", "1462A", "active", "key:t-city-team")
    # 90 minutes after the clock's now
    assert datetime.fromisoformat(s["ends_at"]) - datetime.fromisoformat(s["starts_at"]) \
        == timedelta(minutes=90)
    listed = client.get("/silences", headers=H(tokens, "inspector")).json()
    assert [x["id"] for x in listed] == [s["id"]]
    # the silence holds the alert's notification (state kept)
    svc.ingest([Reading("1462A", "xian", "air", T0 + timedelta(hours=h), "PT1H",
                        {"pm25": 350.0}) for h in range(3)])
    (alert,) = svc.alerts(open_only=True)
    assert alert["state"] == "active" and not alert["notified"] and alert["held"] == "issued"
    (held,) = [a for a in svc.audit(alert["id"]) if a["action"] == "suppressed"]
    assert s["id"] in held["reason"]
    e = client.post(f"/silences/{s['id']}/expire", headers=H(tokens, "city-team"))
    assert e.status_code == 200 and e.json()["status"] == "expired"
    assert client.post(f"/silences/{s['id']}/expire",
                       headers=H(tokens, "city-team")).status_code == 409
    assert client.get("/silences", headers=H(tokens, "inspector")).json() == []
    assert client.delete(f"/silences/{s['id']}", headers=H(tokens, "bureau")).status_code \
        == 200
    trail = client.get(f"/silences/{s['id']}/audit", headers=H(tokens, "inspector")).json()
    assert [t["action"] for t in trail] == ["silence_created", "silence_expired",
                                           "silence_deleted"]
    assert client.delete(f"/silences/{s['id']}", headers=H(tokens, "admin")).status_code \
        == 404


def test_another_citys_silence_is_not_the_city_teams(env):
    client, tokens, _, _ = env
    s = client.post("/silences", headers=H(tokens, "admin"),
                    json={"reason": "r", "city": "linfen"}).json()
    assert client.post(f"/silences/{s['id']}/expire",
                       headers=H(tokens, "city-team")).status_code == 403
    assert client.delete(f"/silences/{s['id']}",
                         headers=H(tokens, "city-team")).status_code == 403
