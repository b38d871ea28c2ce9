"""Fixtures shared by the alert tests: a manual clock at the platform tests' T0, a SQLite
state URL and a service factory (folders with other needs override them in their conftest)."""
from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

# tests/alerts has no __init__.py (and "platform" would shadow the standard library as a
# package name), so the platform's helpers module is imported from its folder by path.
sys.path.insert(0, str(Path(__file__).parent / "platform"))

from alerts import AlertService, AlertSettings, ManualClock  # noqa: E402

from alerts_platform_helpers import T0  # noqa: E402


@pytest.fixture
def clock():
    return ManualClock(T0)


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture
def make_service(clock):
    """Build (not start) services; all are stopped at teardown."""
    made: list[AlertService] = []

    def make(state_url: str, *, rules=None, recipients=None, start=True, dispatch=False,
             mqtt_url: str | None = None, svc_clock=None, extra_webhook=None, **settings):
        # these tests count single messages: grouping (default group_wait 30 s) is off
        # unless a test sets its wait (test_alerts_grouping.py)
        settings.setdefault("group_wait", "0s")
        s = AlertSettings(state_url=state_url, mqtt_url=mqtt_url or "mqtt://127.0.0.1:1",
                          mqtt_enabled=mqtt_url is not None, backoff_base_s=10,
                          backoff_max_s=60, poll_interval_s=0.05, **settings)
        svc = AlertService(s, rules=rules, recipients=recipients, clock=svc_clock or clock,
                           rng=random.Random(1), extra_webhook=extra_webhook)
        made.append(svc)
        if start:
            svc.start(dispatch=dispatch, schedule=False)
        return svc

    yield make
    for svc in made:
        try:
            svc.stop()
        except Exception:  # noqa: BLE001
            pass
