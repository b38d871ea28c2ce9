"""GET /duty: who is on duty per team for the dashboard (a weekly rotation handing over at
09:00 CST and an override), with the server's clock or an explicit time."""
from __future__ import annotations

import json
import random
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from alerts import AlertService, AlertSettings, ManualClock
from api.app import create_app
from api.auth import KeyStore, RateLimiter
from core.store import open_store
from tests.alerts.platform.alerts_platform_helpers import recipients_file

# 2026-01-05 is a Monday (1 January 2026 was a Thursday); week k starts 09:00 CST = 01:00 UTC
DUTY = [{"team": "team-xian", "rotation": {"start": "2026-01-05", "people": ["p-wang", "p-li"]},
         "overrides": [{"start": "2026-01-13T18:00:00+08:00", "end": "2026-01-14",
                        "person": "p-zhao", "reason": "swap"}]}]
PEOPLE = [{"id": "p-wang", "name_zh": "王伟", "name_en": "Wang Wei",
           "channels": [{"type": "sms", "url": "http://127.0.0.1:1/sms", "to": ["+8613800000000"]}]},
          {"id": "p-li", "name_zh": "李娜", "name_en": "Li Na"},
          {"id": "p-zhao", "name_zh": "赵强", "name_en": "Zhao Qiang"}]


@pytest.fixture
def env(tmp_path, catalogue):
    path = recipients_file(tmp_path, {})
    doc = json.loads(path.read_text())
    doc["people"], doc["duty"] = PEOPLE, DUTY
    path.write_text(json.dumps(doc, ensure_ascii=False))
    clock = ManualClock(datetime(2026, 1, 12, 0, 59, tzinfo=timezone.utc))   # 08:59 CST Mon
    svc = AlertService(AlertSettings(state_url=f"sqlite:///{tmp_path / 'a.db'}",
                                     mqtt_enabled=False), recipients=path, clock=clock,
                       rng=random.Random(1))
    svc.migrate()
    keys = KeyStore(f"sqlite:///{tmp_path / 'k.db'}")
    token = keys.create("t-city", "city-team", "xian")[1]
    app = create_app(open_store("duckdb://:memory:", catalogue), catalogue, keys,
                     limiter=RateLimiter(1000, 1000), alert_state=svc,
                     clock=lambda: clock.now().timestamp())
    yield TestClient(app), {"Authorization": f"Bearer {token}"}, clock
    svc.stop()


def test_now_follows_the_clock_across_the_handover(env):
    client, h, clock = env
    (row,) = client.get("/duty?team=team-xian", headers=h).json()
    assert row["on_duty"]["id"] == "p-wang" and row["next"]["id"] == "p-li"
    assert row["on_duty"]["until"] == "2026-01-12T09:00:00+08:00"
    assert "channels" not in row["on_duty"] and "+8613800000000" not in json.dumps(row)
    clock.set(datetime(2026, 1, 12, 1, 0, tzinfo=timezone.utc))          # 09:00 CST
    (row,) = client.get("/duty?team=team-xian", headers=h).json()
    assert (row["on_duty"]["id"], row["on_duty"]["name_zh"], row["on_duty"]["source"]) == \
        ("p-li", "李娜", "rotation")


@pytest.mark.parametrize("at,who,source", [
    ("2026-01-13T18:00:00+08:00", "p-zhao", "override"),
    ("2026-01-13T17:59:59", "p-li", "rotation"),            # no offset: CST
    ("2026-01-19T01:00:00Z", "p-wang", "rotation"),          # week 2
], ids=["override", "CST without offset", "week 2"])
def test_at(env, at, who, source):
    client, h, _ = env
    (row,) = client.get("/duty", params={"team": "team-xian", "at": at}, headers=h).json()
    assert (row["on_duty"]["id"], row["on_duty"]["source"]) == (who, source)
    assert row["team"] == "team-xian" and row["city"] == "xian"
