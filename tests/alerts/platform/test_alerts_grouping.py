"""Grouping: Xi'an's 13 national stations crossing one threshold within the group wait make
one message per recipient per channel (webhook, e-mail, robot) listing all 13; the webhook
body of a group lists each alert's own single-alert body (own idempotency key) under
``alerts``. Real SMTP and HTTP servers, injected clock."""
from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import jsonschema

from alerts_platform_helpers import PM25_RULES, T0, recipients_file, series

SCHEMA = json.loads((Path(__file__).resolve().parents[3] / "docs" /
                     "webhook.schema.json").read_text())
# Xi'an's 13 national air stations (catalogue, city xian)
XIAN = ["1462A", "1463A", "1464A", "1465A", "1466A", "1467A", "1468A", "1469A", "1470A",
        "1471A", "1472A", "1473A", "1474A"]


def _cross(svc, stations, start):
    """Each station 300 µg/m³ for 25 min: above the red threshold 250 for longer than the
    rule's 15 min duration (5 readings 5 min apart: 0, 5, ..., 20 min)."""
    for st in stations:
        svc.ingest(series(st, start, [300] * 5))


def test_thirteen_stations_one_message_per_recipient_and_channel(
        pg_url, make_service, clock, receiver, receiver2, smtp, tmp_path):
    rcpts = recipients_file(tmp_path, {"team-xian": [
        {"type": "webhook", "url": receiver.url},
        {"type": "email", "to": ["duty@xian.example"]},
        {"type": "wecom", "url": receiver2.url + "?key=k"}]})
    svc = make_service(pg_url, rules=PM25_RULES, recipients=rcpts, group_wait="30s",
                       group_interval="5m", smtp_url=smtp.url)
    clock.set(T0)
    _cross(svc, XIAN[:7], T0 - timedelta(minutes=20))
    clock.set(T0 + timedelta(seconds=20))            # six more within the 30 s group wait
    _cross(svc, XIAN[7:], T0 - timedelta(minutes=20) + timedelta(seconds=20))
    assert len(svc.alerts(open_only=True)) == 13
    svc.dispatch_once()
    assert receiver.requests == [] and smtp.messages == []     # the group waits 30 s
    clock.set(T0 + timedelta(seconds=30))
    svc.dispatch_once()
    assert receiver.wait_count(1) and smtp.wait_count(1) and receiver2.wait_count(1)
    (body,) = receiver.bodies()
    jsonschema.validate(body, SCHEMA)
    assert body["schema"] == "fenwei.alert.group.v1" and body["count"] == 13
    assert sorted(a["subject"]["station"] for a in body["alerts"]) == XIAN
    keys = [a["idempotency_key"] for a in body["alerts"]]
    assert len(set(keys)) == 13 and body["idempotency_key"] not in keys
    for a in body["alerts"]:
        jsonschema.validate(a, SCHEMA)                 # each one the single-alert body
    assert receiver.requests[0]["headers"]["Idempotency-Key"] == body["idempotency_key"]
    assert all(f"（{st}）" in body["text_zh"] for st in XIAN)
    (_, mail), = smtp.messages
    text = mail.get_body(("plain",)).get_content()
    assert all(st in text for st in XIAN) and "13" in mail["Subject"]
    (robot,) = [json.loads(r["raw"]) for r in receiver2.requests]
    assert all(st in robot["markdown"]["content"] for st in XIAN)
    rows = [r for r in svc.outbox() if r["channel"] != "sse"]   # the dashboards' events
    assert len(rows) == 13 * 3 and {r["status"] for r in rows} == {"delivered"}
    assert {r["channel"] for r in rows} == {"webhook", "email", "wecom"}


def test_a_later_alert_of_the_group_waits_for_the_group_interval(
        sqlite_url, make_service, clock, receiver, tmp_path):
    rcpts = recipients_file(tmp_path, {"team-xian": [{"type": "webhook", "url": receiver.url}]})
    svc = make_service(sqlite_url, rules=PM25_RULES, recipients=rcpts, group_wait="30s",
                       group_interval="5m")
    clock.set(T0)
    _cross(svc, XIAN[:1], T0 - timedelta(minutes=20))
    clock.set(T0 + timedelta(seconds=30))
    svc.dispatch_once()
    assert receiver.wait_count(1)
    assert receiver.bodies()[0]["schema"] == "fenwei.alert.v1"    # a group of one: as ever
    clock.set(T0 + timedelta(minutes=1))
    _cross(svc, XIAN[1:3], T0 - timedelta(minutes=19))
    clock.set(T0 + timedelta(minutes=5))   # 30 s + 5 min = 5 min 30 s: not yet
    svc.dispatch_once()
    assert len(receiver.requests) == 1
    clock.set(T0 + timedelta(minutes=5, seconds=30))
    svc.dispatch_once()
    assert receiver.wait_count(2)
    assert receiver.bodies()[1]["count"] == 2


def test_another_level_is_another_group(sqlite_url, make_service, clock, receiver, tmp_path):
    """group_by rule, city, level: a yellow and a red alert of Xi'an go out apart."""
    rcpts = recipients_file(tmp_path, {"team-xian": [{"type": "webhook", "url": receiver.url}]})
    svc = make_service(sqlite_url, rules=PM25_RULES, recipients=rcpts, group_wait="30s")
    clock.set(T0)
    svc.ingest(series("1462A", T0 - timedelta(minutes=20), [300] * 5))   # red (> 250)
    svc.ingest(series("1463A", T0 - timedelta(minutes=20), [200] * 5))   # yellow (150-250)
    clock.set(T0 + timedelta(seconds=30))
    svc.dispatch_once()
    assert receiver.wait_count(2)
    assert sorted(b["level"] for b in receiver.bodies()) == ["red", "yellow"]
    assert all(b["schema"] == "fenwei.alert.v1" for b in receiver.bodies())


def test_catch_all_copies_are_not_grouped_by_default(sqlite_url, make_service, clock,
                                                     receiver, receiver2, tmp_path):
    rcpts = recipients_file(tmp_path, {"team-xian": [{"type": "webhook", "url": receiver.url}]})
    svc = make_service(sqlite_url, rules=PM25_RULES, recipients=rcpts, group_wait="30s",
                       extra_webhook=receiver2.url, catchall_exercise=False)
    clock.set(T0)
    _cross(svc, XIAN[:3], T0 - timedelta(minutes=20))
    svc.dispatch_once()
    assert receiver2.wait_count(3)                  # one copy per key, at once
    assert receiver.requests == []
    clock.set(T0 + timedelta(seconds=30))
    svc.dispatch_once()
    assert receiver.wait_count(1) and receiver.bodies()[0]["count"] == 3


def test_catch_all_grouped_copies_one_message_per_recipient_meant_for(
        sqlite_url, make_service, clock, receiver, receiver2, tmp_path):
    """group_catchall: the catch-all hears what team-xian would, one message for the three
    stations (the copy's key carries whom it was meant for)."""
    rcpts = recipients_file(tmp_path, {"team-xian": [{"type": "webhook", "url": receiver.url}]})
    svc = make_service(sqlite_url, rules=PM25_RULES, recipients=rcpts, group_wait="30s",
                       extra_webhook=receiver2.url, catchall_exercise=False,
                       group_catchall=True)
    clock.set(T0)
    _cross(svc, XIAN[:3], T0 - timedelta(minutes=20))
    svc.dispatch_once()
    assert receiver2.requests == [] and receiver.requests == []   # both wait 30 s
    clock.set(T0 + timedelta(seconds=30))
    svc.dispatch_once()
    assert receiver.wait_count(1) and receiver2.wait_count(1)
    (copy,) = receiver2.bodies()
    assert copy["schema"] == "fenwei.alert.group.v1" and copy["count"] == 3
    assert {a["recipient"]["id"] for a in copy["alerts"]} == {"team-xian"}
    assert sorted(a["subject"]["station"] for a in copy["alerts"]) == XIAN[:3]


def test_a_clock_that_stands_still_releases_waiting_groups(
        sqlite_url, make_service, clock, receiver, tmp_path):
    """A replay's clock held at its period's end never reaches a group's due time:
    release_groups makes the waiting rows due now and they go out as one message."""
    rcpts = recipients_file(tmp_path, {"team-xian": [{"type": "webhook", "url": receiver.url}]})
    svc = make_service(sqlite_url, rules=PM25_RULES, recipients=rcpts, group_wait="30s")
    clock.set(T0)
    _cross(svc, XIAN[:3], T0 - timedelta(minutes=20))
    svc.dispatch_once()
    assert receiver.requests == []                 # due at T0 + 30 s; the clock stays at T0
    with svc.engine.begin() as conn:
        assert svc.notifier.release_groups(conn, clock.now()) == 3
        assert svc.notifier.release_groups(conn, clock.now()) == 0   # nothing left waiting
    svc.dispatch_once()
    assert receiver.wait_count(1) and receiver.bodies()[0]["count"] == 3
    assert {r["status"] for r in svc.outbox() if r["channel"] == "webhook"} == {"delivered"}


def test_a_clock_that_stands_still_retries_failed_rows_now(
        sqlite_url, make_service, clock, receiver, tmp_path):
    """A delivery that failed just before a replay's clock was held waits out a backoff in
    clock time that never passes: with ``retries`` it is due now and is delivered."""
    rcpts = recipients_file(tmp_path, {"team-xian": [{"type": "webhook", "url": receiver.url}]})
    svc = make_service(sqlite_url, rules=PM25_RULES, recipients=rcpts, group_wait="0s")
    clock.set(T0)
    receiver.status = 503
    _cross(svc, XIAN[:1], T0 - timedelta(minutes=20))
    svc.dispatch_once()
    (row,) = [r for r in svc.outbox() if r["channel"] == "webhook"]
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert row["next_attempt_at"] > clock.now()     # a backoff the held clock never reaches
    receiver.status = 200
    with svc.engine.begin() as conn:
        assert svc.notifier.release_groups(conn, clock.now()) == 0     # not a group wait
        assert svc.notifier.release_groups(conn, clock.now(), retries=True) == 1
    svc.dispatch_once()
    assert [r["status"] for r in svc.outbox() if r["channel"] == "webhook"] == ["delivered"]
