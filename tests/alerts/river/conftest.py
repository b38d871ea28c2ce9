"""Fixtures of the river and liveness alert tests: a service factory over an in-memory store."""
from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "platform"))

from alerts import AlertService, AlertSettings  # noqa: E402
from alerts.rules.liveness import bind_rules  # noqa: E402

from alerts_platform_helpers import recipients_file  # noqa: E402

HOOK = "http://127.0.0.1:9/hook"     # never dispatched: the tests read the outbox
WATCHED = ["team-weinan", "team-xian", "team-tongchuan", "water-shaanxi", "ops-platform"]


@pytest.fixture
def recipients(tmp_path):
    return recipients_file(tmp_path, {r: [{"type": "webhook", "url": f"{HOOK}?{r}"}]
                                      for r in WATCHED})


@pytest.fixture
def make_service(recipients, tmp_path):
    made: list[AlertService] = []

    def make(rules, store, clock, *, state_url=None, **context):
        s = AlertSettings(state_url=state_url or f"sqlite:///{tmp_path / 'state.db'}",
                          mqtt_url="mqtt://127.0.0.1:1", mqtt_enabled=False)
        svc = AlertService(s, rules={"rule": rules}, recipients=recipients, clock=clock,
                           rng=random.Random(1), store=store)
        bind_rules(svc, **context)
        svc.start(dispatch=False, schedule=False)
        made.append(svc)
        return svc

    yield make
    for svc in made:
        svc.stop()


def open_alerts(svc, rule_id=None, subject=None):
    return [a for a in svc.alerts(open_only=True, rule_id=rule_id)
            if subject is None or a["subject"] == subject]


def recipients_of(svc, alert_id, event="issued"):
    return sorted({r["recipient_id"] for r in svc.outbox(alert_id=alert_id)
                   if r["event"] == event and r["recipient_id"] != "broadcast"})
