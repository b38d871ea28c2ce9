"""CAP 1.2 messages validate against the OASIS schema; webhook bodies against our JSON Schema."""
from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

import jsonschema
import pytest
import xmlschema

from alerts._cap import schema_path

from alerts_platform_helpers import PM25_RULES, T0, recipients_file, series

NS = {"c": "urn:oasis:names:tc:emergency:cap:1.2"}
SCHEMA = Path(__file__).resolve().parents[3] / "docs" / "webhook.schema.json"


@pytest.fixture(scope="module")
def cap_schema():
    return xmlschema.XMLSchema(str(schema_path()))


def _life(svc, clock):
    clock.set(T0)
    svc.ingest(series("1462A", T0 - timedelta(minutes=20), [180] * 5))     # yellow: Alert
    clock.set(T0 + timedelta(minutes=25))
    svc.ingest(series("1462A", T0 + timedelta(minutes=5), [300] * 5))      # red: Update
    clock.set(T0 + timedelta(minutes=30))
    svc.ingest(series("1462A", T0 + timedelta(minutes=30), [50]))          # lifted: Cancel
    (alert,) = svc.alerts()
    return alert


@pytest.mark.parametrize("exercise", [False, True], ids=["actual", "exercise"])
def test_cap_alert_update_cancel_valid(sqlite_url, make_service, clock, cap_schema, exercise):
    svc = make_service(sqlite_url, rules=PM25_RULES, exercise=exercise)
    alert = _life(svc, clock)
    msgs = alert["cap_refs"]
    assert [m["event"] for m in msgs] == ["issued", "updated", "lifted"]
    types, refs = [], []
    for m in msgs:
        cap_schema.validate(m["xml"])
        root = ET.fromstring(m["xml"])
        types.append(root.findtext("c:msgType", namespaces=NS))
        assert root.findtext("c:status", namespaces=NS) == ("Exercise" if exercise else "Actual")
        refs.append(root.findtext("c:references", namespaces=NS))
        geo = root.findall("c:info/c:area/c:geocode", NS)
        assert geo and geo[0].findtext("c:valueName", namespaces=NS) == "GB/T 2260"
        assert geo[0].findtext("c:value", namespaces=NS) == "610100"
        assert root.findall("c:info/c:area/c:circle", NS)
    assert types == ["Alert", "Update", "Cancel"]
    assert refs[0] is None
    assert refs[1] == msgs[0]["ref"] and refs[2] == f"{msgs[0]['ref']} {msgs[1]['ref']}"


def test_cancelled_by_operator_is_cap_cancel(sqlite_url, make_service, clock, cap_schema):
    svc = make_service(sqlite_url, rules=PM25_RULES)
    clock.set(T0)
    svc.ingest(series("1463A", T0 - timedelta(minutes=20), [180] * 5))
    (alert,) = svc.alerts()
    svc.cancel(alert["id"], "值班员", "仪器故障导致误报")
    a = svc.alert(alert["id"])
    assert a["state"] == "cancelled" and not a["open"]
    cap_schema.validate(a["cap_refs"][-1]["xml"])
    assert "<msgType>Cancel</msgType>" in a["cap_refs"][-1]["xml"]


def test_real_webhook_bodies_match_the_documented_schema(sqlite_url, make_service, clock,
                                                         receiver, tmp_path):
    rcpts = recipients_file(tmp_path, {"team-xian": [{"type": "webhook", "url": receiver.url}]})
    svc = make_service(sqlite_url, rules=PM25_RULES, recipients=rcpts,
                       ack_base_url="https://alerts.example/ack",
                       extra_webhook=None)
    alert = _life(svc, clock)
    svc.dispatch_once()
    bodies = sorted(receiver.bodies(), key=lambda b: b["seq"])   # sent concurrently
    assert [b["event"] for b in bodies] == ["issued", "updated", "lifted"]
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    for b in bodies:
        validator.validate(b)
        assert b["alert_id"] == alert["id"]
    assert bodies[0]["ack_url"].startswith("https://alerts.example/ack?token=")
