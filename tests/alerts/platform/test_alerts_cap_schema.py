"""CAP 1.2 messages validate against the OASIS schema; webhook bodies against our JSON Schema."""
from __future__ import annotations

import json
from datetime import timedelta, timezone
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


# ---------------------------------------------------------------- forecast timing (issue 16.6)
H = timedelta(hours=1)
SENT = T0                                               # 10:00 CST


def cap_time(t) -> str:
    """CAP dateTime as the wire shows it: seconds, CST offset."""
    return t.astimezone(timezone(timedelta(hours=8))).isoformat()
FC = {"forecast": {"issue_time": T0.isoformat(), "model_id": "m", "quantile": "q50"},
      "certainty": "Likely"}


def _alert(evidence: dict) -> dict:
    return {"id": "a1", "kind": "air.warning", "subject": "city:xian", "cities": ["xian"],
            "level": "yellow", "exercise": False, "evidence": evidence,
            "opened_at": SENT, "activated_at": SENT, "first_observed_at": SENT - 2 * H}


def _cap(cat, evidence: dict, event: str = "issued", **kw) -> ET.Element:
    from alerts._cap import build_cap
    xml = build_cap(cat, _alert(evidence), event, identifier="fenwei-a1-1", sender="t@x",
                    sent=SENT, references=[], texts=("预警", "warning"), title=("t", "t"), **kw)
    xmlschema.XMLSchema(str(schema_path())).validate(xml)
    return ET.fromstring(xml)


def _info(root: ET.Element) -> dict:
    (first, second) = root.findall("c:info", NS)
    got = {k: first.findtext(f"c:{k}", namespaces=NS) for k in ("urgency", "onset", "expires")}
    assert got == {k: second.findtext(f"c:{k}", namespaces=NS) for k in got}  # both languages
    return got


# CAP 1.2 urgency: Immediate = act now, Expected = within the next hour, Future = in the near
# future; the lead is forecast onset - sent (SENT = 2026-01-10 10:00 CST)
@pytest.mark.parametrize("lead,urgency", [
    (-2 * H, "Immediate"),                 # episode already under way
    (timedelta(0), "Immediate"),           # starts now
    (30 * timedelta(minutes=1), "Expected"),
    (H, "Expected"),                       # exactly one hour: still within the next hour
    (H + timedelta(minutes=1), "Future"),
    (24 * H, "Future"),                    # the usual warning, a day ahead
], ids=["-2h", "0", "30min", "1h", "61min", "24h"])
def test_forecast_warning_onset_urgency_expires(catalogue, lead, urgency):
    onset, end = SENT + lead, SENT + lead + 48 * H
    got = _info(_cap(catalogue, {**FC, "onset": onset.isoformat(), "end": end.isoformat()}))
    assert got == {"urgency": urgency, "onset": cap_time(onset), "expires": cap_time(end)}
    if lead == 24 * H:
        assert got["onset"] == "2026-01-11T10:00:00+08:00"


def test_observed_alert_keeps_first_observation_and_immediate(catalogue):
    got = _info(_cap(catalogue, {"certainty": "Observed", "aqi": 230}))
    assert got == {"urgency": "Immediate", "onset": cap_time(SENT - 2 * H), "expires": None}


def test_held_warning_expires_at_the_end_of_the_forecast_graded(catalogue):
    ev = {**FC, "aqi": {"start": SENT.isoformat(), "step": "PT1H", "values": [60] * 96}}
    got = _info(_cap(catalogue, ev))             # no episode: 96 forecast hours from SENT
    assert got == {"urgency": "Immediate", "onset": cap_time(SENT - 2 * H),
                   "expires": cap_time(SENT + 96 * H)}


def test_regional_window_and_prompt_validity(catalogue):
    win = {"start": (SENT + 30 * H).isoformat(), "end": (SENT + 60 * H).isoformat()}
    got = _info(_cap(catalogue, {"source": "forecast", "window": win}))
    assert got == {"urgency": "Future", "onset": cap_time(SENT + 30 * H),
                   "expires": cap_time(SENT + 60 * H)}
    got = _info(_cap(catalogue, {"source": "prompt", "valid_until": (SENT + 48 * H).isoformat()}))
    assert got == {"urgency": "Immediate", "onset": cap_time(SENT - 2 * H),
                   "expires": cap_time(SENT + 48 * H)}


def test_past_expiry_is_left_out_and_lifted_is_past(catalogue):
    ev = {**FC, "onset": (SENT - 30 * H).isoformat(), "end": (SENT - H).isoformat()}
    assert _info(_cap(catalogue, ev))["expires"] is None       # never an already-expired info
    assert _info(_cap(catalogue, ev, "lifted"))["urgency"] == "Past"
    assert _info(_cap(catalogue, ev, expires=SENT + 5 * H))["expires"] == cap_time(SENT + 5 * H)
