"""Outbox delivery on the injected clock: outages, dead letters, robots and their limits."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse
from datetime import timedelta

from typer.testing import CliRunner

from alerts.cli import app
from alerts.channels import dingtalk_sign

from alerts_platform_helpers import PM25_RULES, T0, recipients_file, series

XIAN = ["1462A", "1463A", "1464A", "1465A", "1466A", "1467A", "1468A", "1469A", "1470A",
        "1471A", "1472A", "1473A", "1474A"]


def _fire(svc, clock, stations, value=300):
    """Red alerts for the stations, observed just now."""
    clock.set(T0)
    for st in stations:
        svc.ingest(series(st, T0 - timedelta(minutes=20), [value] * 5))


def _drain(svc, clock, until: timedelta, step=timedelta(seconds=15), then=None):
    end = clock.now() + until
    while clock.now() < end:
        svc.dispatch_once()
        clock.advance(step)
        if then and then():
            return


def test_receiver_down_five_minutes_gets_everything(pg_url, make_service, clock, receiver,
                                                    tmp_path):
    rcpts = recipients_file(tmp_path, {"team-xian": [{"type": "webhook", "url": receiver.url}]})
    svc = make_service(pg_url, rules=PM25_RULES, recipients=rcpts, max_attempts=30)
    receiver.status = 503
    _fire(svc, clock, XIAN[:3])
    _drain(svc, clock, timedelta(minutes=5), step=timedelta(seconds=1))  # retry times to 1 s
    assert receiver.requests == []
    failed = svc.outbox(status="pending")
    assert len([r for r in failed if r["channel"] == "webhook"]) == 3
    assert all(r["attempts"] >= 4 for r in failed if r["channel"] == "webhook")
    receiver.status = 200
    _drain(svc, clock, timedelta(minutes=3), then=lambda: len(receiver.requests) >= 3)
    assert sorted(b["subject"]["station"] for b in receiver.bodies()) == XIAN[:3]
    assert len(set(receiver.keys())) == len(receiver.keys()) == 3
    assert not svc.dead_letters()
    row = next(r for r in svc.outbox() if r["channel"] == "webhook")
    rec = svc.receipts(row["id"])
    assert [r["ok"] for r in rec][-1] is True and not any(r["ok"] for r in rec[:-1])
    # the wait after failed attempt k is the policy's (base 10 s, cap 60 s, equal jitter):
    # between half and all of min(60, 10 * 2**(k-1)), seen here to the 1 s drain step. A
    # fixed retry period fails this: the waits must double until the cap.
    failed = [r for r in rec if not r["ok"]]
    gaps = [(b["at"] - a["at"]).total_seconds() for a, b in zip(failed, failed[1:])]
    caps = [min(60.0, 10.0 * 2 ** k) for k in range(len(gaps))]
    assert len(gaps) >= 4, gaps
    for k, (gap, cap) in enumerate(zip(gaps, caps)):
        assert cap / 2 <= gap <= cap + 1, (k, gaps)
    assert gaps[3] >= 2 * gaps[0]                         # it grew


def test_always_failing_receiver_ends_in_visible_dead_letter(sqlite_url, make_service, clock,
                                                             receiver, receiver2, tmp_path):
    rcpts = recipients_file(tmp_path, {"team-xian": [{"type": "webhook", "url": receiver.url},
                                                     {"type": "webhook", "url": receiver2.url}]})
    svc = make_service(sqlite_url, rules=PM25_RULES, recipients=rcpts, max_attempts=3)
    receiver.status = 500
    receiver2.status = 410                      # permanent: no retry
    _fire(svc, clock, XIAN[:1])
    _drain(svc, clock, timedelta(minutes=10))
    dead = svc.dead_letters()
    by_target = {d["target"]: d for d in dead}
    assert by_target[receiver.url]["attempts"] == 3
    assert "HTTP 500" in by_target[receiver.url]["last_error"]
    assert by_target[receiver2.url]["attempts"] == 1
    out = CliRunner().invoke(app, ["dead-letters", "--state-url", sqlite_url])
    assert out.exit_code == 0, out.output
    lines = [json.loads(x) for x in out.output.splitlines()]
    assert {x["target"] for x in lines} == {receiver.url, receiver2.url}


def test_wecom_rate_limit_groups_never_drops(sqlite_url, make_service, clock, receiver,
                                             tmp_path):
    rcpts = recipients_file(tmp_path, {"team-xian": [
        {"type": "wecom", "url": receiver.url + "?key=abc", "msgtype": "markdown"}]})
    svc = make_service(sqlite_url, rules=PM25_RULES, recipients=rcpts, robot_rate_per_min=2)
    _fire(svc, clock, XIAN)
    posts_per_minute = []
    for _ in range(6):
        before = len(receiver.requests)
        for _ in range(4):
            svc.dispatch_once()
            clock.advance(timedelta(seconds=15))
        posts_per_minute.append(len(receiver.requests) - before)
    assert max(posts_per_minute) <= 2
    bodies = [json.loads(r["raw"]) for r in receiver.requests]
    contents = [b["markdown"]["content"] for b in bodies]
    assert all(b["msgtype"] == "markdown" for b in bodies)
    assert all(len(c.encode("utf-8")) <= 2048 for c in contents)
    assert len(bodies) < len(XIAN)                            # grouped
    for st in XIAN:                                           # never dropped
        assert any(f"（{st}）" in c for c in contents), st
    assert all(r["status"] == "delivered" for r in svc.outbox() if r["channel"] == "wecom")


def test_dingtalk_secured_robot_signature(sqlite_url, make_service, clock, receiver, tmp_path):
    secret = "SECdingtalk-test"
    rcpts = recipients_file(tmp_path, {"team-xian": [
        {"type": "dingtalk", "url": receiver.url + "?access_token=tok", "secret": secret,
         "msgtype": "text"}]})
    svc = make_service(sqlite_url, rules=PM25_RULES, recipients=rcpts)
    _fire(svc, clock, XIAN[:1])
    svc.dispatch_once()
    assert receiver.wait_count(1)
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(receiver.requests[0]["path"]).query)
    ts = q["timestamp"][0]
    assert ts == str(int(clock.now().timestamp() * 1000))
    want = base64.b64encode(hmac.new(secret.encode(), f"{ts}\n{secret}".encode(),
                                     hashlib.sha256).digest()).decode()
    assert q["sign"][0] == want
    body = json.loads(receiver.requests[0]["raw"])
    assert body["msgtype"] == "text" and "红色预警" in body["text"]["content"]
    assert dingtalk_sign("s", 1)[1] == urllib.parse.quote_plus(base64.b64encode(
        hmac.new(b"s", b"1\ns", hashlib.sha256).digest()))


def test_sms_gateway_template_and_english(sqlite_url, make_service, clock, receiver, tmp_path):
    rcpts = recipients_file(tmp_path, {"team-xian": [
        {"type": "sms", "url": receiver.url, "to": ["13800000000"], "lang": "en",
         "template": "[{level}] {text}"}]})
    svc = make_service(sqlite_url, rules=PM25_RULES, recipients=rcpts)
    _fire(svc, clock, XIAN[:1])
    svc.dispatch_once()
    assert receiver.wait_count(1)
    body = json.loads(receiver.requests[0]["raw"])
    assert body["to"] == ["13800000000"] and body["message"].startswith("[red] RED warning")
    assert body["idempotency_key"] == receiver.requests[0]["headers"]["Idempotency-Key"]


def test_cap_xml_webhook_body(sqlite_url, make_service, clock, receiver, tmp_path):
    rcpts = recipients_file(tmp_path, {"team-xian": [
        {"type": "webhook", "url": receiver.url, "format": "cap"}]})
    svc = make_service(sqlite_url, rules=PM25_RULES, recipients=rcpts)
    _fire(svc, clock, XIAN[:1])
    svc.dispatch_once()
    assert receiver.wait_count(1)
    r = receiver.requests[0]
    assert r["headers"]["Content-Type"].startswith("application/cap+xml")
    assert r["raw"].startswith(b"<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"")
