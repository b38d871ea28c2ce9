"""Fixtures of the warning tests: a service factory with injected clock, store and forecasts."""
from __future__ import annotations

import random

import pytest

from alerts import AlertService, AlertSettings, ManualClock
from tests.alerts.platform.alerts_platform_helpers import Receiver

from .helpers import T0, Forecasts


@pytest.fixture
def clock():
    return ManualClock(T0)


@pytest.fixture
def forecasts():
    return Forecasts()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def store(tmp_path, catalogue):
    from core.store import open_store
    s = open_store(f"duckdb://{tmp_path / 'store.duckdb'}", catalogue)
    yield s
    s.close()


@pytest.fixture
def make_service(clock, forecasts, store, tmp_path):
    """Build and start services (no scheduler, no MQTT); stopped at teardown."""
    made: list[AlertService] = []

    def make(rules, *, state_url=None, recipients=None, dispatch=False, **settings):
        s = AlertSettings(state_url=state_url or f"sqlite:///{tmp_path / 'state.db'}",
                          mqtt_url="mqtt://127.0.0.1:1", mqtt_enabled=False, **settings)
        svc = AlertService(s, rules=rules, recipients=recipients, clock=clock,
                           rng=random.Random(1), store=store, forecasts=forecasts)
        made.append(svc)
        svc.start(dispatch=dispatch, schedule=False)
        return svc

    yield make
    for svc in made:
        svc.stop()
