"""Re-notification and escalation up the ladder on the injected clock; ack stops it."""
from __future__ import annotations

from datetime import timedelta

from alerts_platform_helpers import PM25_RULES, T0, recipients_file, series


def _events(rcv, rid=None):
    """Events in alert order (one dispatcher pass sends concurrently)."""
    bodies = sorted(rcv.bodies(), key=lambda b: b["seq"])
    return [b["event"] for b in bodies if rid is None or b["recipient"]["id"] == rid]


def test_unacknowledged_red_escalates_to_province_on_time(pg_url, make_service, clock,
                                                          receiver, receiver2, tmp_path):
    rcpts = recipients_file(tmp_path, {
        "team-xian": [{"type": "webhook", "url": receiver.url}],
        "env-shaanxi": [{"type": "webhook", "url": receiver2.url}],
        "env-shanxi": [{"type": "webhook", "url": receiver2.url}],
        "fenwei-coordinator": [{"type": "webhook", "url": receiver2.url}]})
    svc = make_service(pg_url, rules=PM25_RULES, recipients=rcpts)   # red: every 10m, 30m/2h
    clock.set(T0)
    svc.ingest(series("1462A", T0 - timedelta(minutes=20), [300] * 5))
    svc.dispatch_once()
    assert _events(receiver) == ["issued"] and receiver2.requests == []

    def at(minutes):
        clock.set(T0 + timedelta(minutes=minutes))
        svc.tick()
        svc.dispatch_once()

    at(9)
    assert _events(receiver) == ["issued"]
    at(10)
    assert _events(receiver) == ["issued", "renotified"]
    at(29)
    assert receiver2.requests == []
    at(30)
    assert receiver2.wait_count(1)
    assert _events(receiver2) == ["escalated"]
    assert receiver2.bodies()[0]["recipient"]["id"] == "env-shaanxi"   # not Shanxi's bureau
    # the step tells its new recipient only: the team had its reminders at 10 and 20 min
    assert _events(receiver) == ["issued", "renotified", "renotified"]
    (alert,) = svc.alerts(open_only=True)
    assert alert["escalation_step"] == 1
    at(31)
    assert len(receiver2.requests) == 1                                  # once, not per tick
    svc.acknowledge(alert["id"], "李四", "已上报省厅")
    svc.dispatch_once()
    n1, n2 = len(receiver.requests), len(receiver2.requests)
    assert _events(receiver2)[-1] == "acknowledged"
    for m in (60, 130, 240):
        at(m)
    assert (len(receiver.requests), len(receiver2.requests)) == (n1, n2)
    actions = [a["action"] for a in svc.audit(alert["id"])]
    assert actions == ["opened", "activated", "renotified", "renotified", "escalated",
                       "acknowledged"]


def test_upgrade_needs_new_acknowledgement(sqlite_url, make_service, clock, receiver, tmp_path):
    rcpts = recipients_file(tmp_path, {"team-xian": [{"type": "webhook", "url": receiver.url}]})
    svc = make_service(sqlite_url, rules=PM25_RULES, recipients=rcpts)
    clock.set(T0)
    svc.ingest(series("1462A", T0 - timedelta(minutes=20), [180] * 5))
    (alert,) = svc.alerts(open_only=True)
    svc.acknowledge(alert["id"], "王五")
    clock.set(T0 + timedelta(minutes=25))
    svc.ingest(series("1462A", T0 + timedelta(minutes=5), [300] * 5))
    a = svc.alert(alert["id"])
    assert (a["level"], a["state"]) == ("red", "active")
    svc.dispatch_once()
    assert _events(receiver) == ["issued", "acknowledged", "updated"]
