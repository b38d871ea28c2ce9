"""Dead letters are not a dead end: a gauge counts them, the operators get an alert while any
is dead, ``fenwei alerts dead-letters redrive`` sends them again (attempts reset, same key),
and robot credentials never reach an outbox row or the listing."""
from __future__ import annotations

import json
from datetime import timedelta

from typer.testing import CliRunner

from alerts.cli import app

from alerts_platform_helpers import PM25_RULES, T0, recipients_file, series

BUILTIN = "notifications-dead-letters"


def _fire(svc, clock, stations):
    clock.set(T0)
    for st in stations:
        svc.ingest(series(st, T0 - timedelta(minutes=20), [300] * 5))


def _drain(svc, clock, passes=12, step=timedelta(seconds=15)):
    for _ in range(passes):
        svc.dispatch_once()
        clock.advance(step)


def _cli(*args):
    out = CliRunner().invoke(app, list(args))
    return out.exit_code, out.output


def _gauge(svc) -> float:
    return svc.metrics.registry.get_sample_value("fenwei_alerts_dead_notifications")


def _ops_events(ops):
    return [(b["event"], b["kind"]) for b in ops.bodies() if b["kind"] ==
            "pipeline.notifications"]


def test_dead_letters_alert_operators_and_redrive(sqlite_url, make_service, clock, receiver,
                                                  receiver2, tmp_path):
    rcpts = recipients_file(tmp_path, {
        "team-xian": [{"type": "webhook", "url": receiver.url}],
        "ops-platform": [{"type": "webhook", "url": receiver2.url}]})
    svc = make_service(sqlite_url, rules=PM25_RULES, recipients=rcpts, max_attempts=2)
    receiver.status = 500
    _fire(svc, clock, ["1462A", "1463A"])
    assert _gauge(svc) == 0
    _drain(svc, clock)
    dead = svc.dead_letters()
    assert len(dead) == 2 and all(d["attempts"] == 2 for d in dead)
    assert _gauge(svc) == 2
    assert svc.stats()["dead_notifications"] == 2

    # the operators' alert, raised by the pass that dead-lettered, delivered to ops-platform
    (ops_alert,) = svc.alerts(open_only=True, rule_id=BUILTIN)
    assert ops_alert["subject"] == "pipeline:notifications" and ops_alert["level"] == "yellow"
    assert ops_alert["evidence"]["dead"] == 2
    assert ops_alert["evidence"]["by_channel"] == {"webhook": 2}
    assert receiver2.wait(lambda r: _ops_events(r) == [("issued", "pipeline.notifications")])
    body = receiver2.bodies()[0]
    assert body["recipient"]["id"] == "ops-platform"
    assert "dead-letters redrive" in body["text_en"]
    team = {r["recipient_id"] for r in svc.outbox(alert_id=ops_alert["id"])}
    assert "team-xian" not in team                   # our own outage: operators alone

    code, out = _cli("dead-letters", "--state-url", sqlite_url)       # the old form
    assert code == 0
    assert [json.loads(x)["id"] for x in out.splitlines()] == [d["id"] for d in dead]
    code, listed = _cli("dead-letters", "list", "--state-url", sqlite_url)
    assert code == 0 and listed == out

    assert _cli("dead-letters", "redrive", "--state-url", sqlite_url)[0] == 2  # neither given
    receiver.status = 200
    code, out = _cli("dead-letters", "redrive", "--id", str(dead[0]["id"]),
                     "--state-url", sqlite_url)
    assert code == 0 and out.strip() == f"redriven 1: {dead[0]['id']}"
    row = next(r for r in svc.outbox() if r["id"] == dead[0]["id"])
    assert (row["status"], row["attempts"]) == ("pending", 0)
    assert _gauge(svc) == 1
    code, out = _cli("dead-letters", "redrive", "--all", "--state-url", sqlite_url)
    assert code == 0 and out.startswith("redriven 1:")
    assert _cli("dead-letters", "redrive", "--id", "999999", "--state-url", sqlite_url)[0] == 1
    _drain(svc, clock, passes=2)
    assert receiver.wait_count(2)
    assert sorted(b["idempotency_key"] for b in receiver.bodies()) == \
        sorted(d["idempotency_key"] for d in dead)                    # the same keys
    assert not svc.dead_letters() and _gauge(svc) == 0
    redriven = [a for a in svc.audit() if a["action"] == "redriven"]
    assert len(redriven) == 2 and redriven[0]["actor"] == "cli"

    svc.tick()                                       # none dead: the operators' alert lifts
    assert not svc.alerts(open_only=True, rule_id=BUILTIN)
    _drain(svc, clock, passes=1)
    assert receiver2.wait(lambda r: ("lifted", "pipeline.notifications") in _ops_events(r))


def test_robot_credentials_are_masked_in_rows_and_listing(sqlite_url, make_service, clock,
                                                          receiver, tmp_path):
    rcpts = recipients_file(tmp_path, {"team-xian": [
        {"type": "wecom", "url": receiver.url + "?key=wecom-SECRET-key"},
        {"type": "dingtalk", "url": receiver.url + "?access_token=ding-SECRET-token"}]})
    svc = make_service(sqlite_url, rules=PM25_RULES, recipients=rcpts, max_attempts=1)
    paths: list[str] = []
    receiver.status = lambda h: (paths.append(h.path), 500)[1]
    _fire(svc, clock, ["1462A"])
    _drain(svc, clock, passes=2)
    # the robots were called with the real URLs, resolved from the directory at send time
    assert any("key=wecom-SECRET-key" in p for p in paths)
    assert any("access_token=ding-SECRET-token" in p for p in paths)
    rows = [r for r in svc.outbox() if r["channel"] in ("wecom", "dingtalk")]
    assert len(rows) == 2 and all(r["status"] == "dead" for r in rows)
    stored = json.dumps([{k: str(v) for k, v in r.items()} for r in rows] +
                        [str(x) for r in rows for x in svc.receipts(r["id"])])
    assert "SECRET" not in stored
    assert {r["target"] for r in rows} == {receiver.url + "?key=***",
                                           receiver.url + "?access_token=***"}
    code, out = _cli("dead-letters", "list", "--state-url", sqlite_url)
    assert code == 0 and "SECRET" not in out and "key=***" in out
    receiver.status = 200                            # redrive: sent again to the real URLs
    svc.redrive()
    _drain(svc, clock, passes=1)
    assert all(r["status"] == "delivered" for r in svc.outbox()
               if r["channel"] in ("wecom", "dingtalk"))
