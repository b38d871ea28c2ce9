"""Property-based run of the app's own OpenAPI document (schemathesis): no 5xx and every
response matches its declared schema, with an admin key, on a populated DuckDB store with
forecasts, targets, dead letters and a live alert service configured (so no optional part
answers 503). Fixed budget: 20 derandomized examples per operation and generation mode
(``FENWEI_SCHEMATHESIS_EXAMPLES`` raises it for a deeper run)."""
from __future__ import annotations

import os
import random
from datetime import datetime, timedelta, timezone

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from alerts import AlertService, AlertSettings, ManualClock
from core.ecoflow import TargetStore
from api.app import create_app
from api.auth import FailureLimiter, RateLimiter
from core.wire import Reading
from ingest import DeadLetter
from core.deadletters import DeadLetters, connect

from .test_forecast_routes import NOW, make_keys, populated_store

RULES = {"rule": [{"id": "pm25-st", "type": "threshold", "kind": "air.realtime",
                   "title_zh": "PM2.5 超标", "title_en": "PM2.5 exceedance",
                   "parameter": "pm25", "per": "station", "duration": "1h",
                   "levels": [{"level": "red", "above": 300, "clear_below": 200}]}]}
EXAMPLES = int(os.environ.get("FENWEI_SCHEMATHESIS_EXAMPLES", "20"))  # per operation and mode
SKIP = {"/events"}  # an endless text/event-stream; covered in test_alert_routes


@pytest.fixture(scope="module")
def app_and_key(tmp_path_factory, catalogue):
    d = tmp_path_factory.mktemp("st")
    store = populated_store(f"duckdb://{d / 's.duckdb'}", catalogue)
    svc = AlertService(AlertSettings(state_url=f"sqlite:///{d / 'a.db'}", mqtt_enabled=False),
                       rules=RULES, clock=ManualClock(NOW), rng=random.Random(1))
    svc.start(dispatch=False, schedule=False)
    t = NOW - timedelta(hours=3)
    svc.ingest([Reading("1462A", "xian", "air", t + timedelta(hours=h), "PT1H", {"pm25": 350.0})
                for h in range(3)])
    DeadLetters(connect(d / "ingest.sqlite")).add([
        DeadLetter("fenwei/v1/xian/air/1462A/readings", "malformed_json", "x", b"{",
                   "1462A", datetime(2026, 12, 5, tzinfo=timezone.utc).timestamp())])
    keys, tokens = make_keys(d / "k.db")
    app = create_app(store, catalogue, keys, limiter=RateLimiter(1e6, 1e6),
                     auth_failures=FailureLimiter(1e6, 10**6),
                     targets=TargetStore(f"sqlite:///{d / 'k.db'}", catalogue),
                     alert_service=svc, clock=NOW.timestamp,
                     dead_letters_path=d / "ingest.sqlite")
    yield app, tokens["admin"]
    svc.stop()


@pytest.fixture(scope="module")
def api_schema(app_and_key):
    return schemathesis.openapi.from_asgi("/openapi.json", app_and_key[0])


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every documented operation, from an empty app (the document does
    not depend on the data). schemathesis.pytest.from_fixture fails under pytest 9."""
    from core.catalogue import load_catalogue
    from core.store import open_store
    from api.auth import KeyStore
    cat = load_catalogue()
    doc = create_app(open_store("duckdb://:memory:", cat), cat, KeyStore("sqlite://")).openapi()
    return sorted((m.upper(), path) for path, ops in doc["paths"].items() for m in ops
                  if path not in SKIP)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=lambda m: m.value)
@pytest.mark.parametrize("method,path", _operations(), ids=lambda x: x)
def test_no_server_error_and_schema_conformance(api_schema, app_and_key, method, path, mode):
    """Valid (positive) and schema-violating (negative) requests alike."""
    headers = {"Authorization": f"Bearer {app_and_key[1]}"}
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case):
        case.call_and_validate(headers=headers,
                               checks=[not_a_server_error, response_schema_conformance])
    try:
        run()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE  # nothing in this operation can be made invalid
