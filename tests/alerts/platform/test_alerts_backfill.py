"""Back-filled data: retrospective alerts recorded, never paged for conditions that ended."""
from __future__ import annotations

from datetime import timedelta

from alerts_platform_helpers import PM25_RULES, T0, recipients_file, series


def test_backfilled_day_makes_retrospective_alerts_and_no_pages(pg_url, make_service, clock,
                                                                receiver, tmp_path):
    rcpts = recipients_file(tmp_path, {"team-xian": [{"type": "webhook", "url": receiver.url}],
                                       "team-xianyang": [{"type": "webhook",
                                                          "url": receiver.url}]})
    svc = make_service(pg_url, rules=PM25_RULES, recipients=rcpts)
    clock.set(T0)
    day = T0 - timedelta(days=1)
    # a day of 5-minute data with two episodes (red, then yellow), all over by now
    values = [80] * 60 + [300] * 30 + [90] * 60 + [180] * 30 + [70] * 108
    for st in ("1462A", "1463A"):
        svc.ingest(series(st, day, values))
    alerts = svc.alerts()
    assert len(alerts) == 4
    assert all(a["retrospective"] and a["state"] == "resolved" for a in alerts)
    assert {a["level"] for a in alerts} == {"red", "yellow"}
    assert svc.outbox() == []
    svc.tick()
    svc.dispatch_once()
    assert receiver.requests == []
    assert all(any(x["action"] == "not_paged" for x in svc.audit(a["id"])) for a in alerts)


def test_backfill_ending_inside_an_episode_pages_once_live(sqlite_url, make_service, clock,
                                                           receiver, tmp_path):
    rcpts = recipients_file(tmp_path, {"team-xian": [{"type": "webhook", "url": receiver.url}]})
    svc = make_service(sqlite_url, rules=PM25_RULES, recipients=rcpts)
    clock.set(T0)
    svc.ingest(series("1462A", T0 - timedelta(hours=3), [300] * 24))  # ends 1 h ago, still high
    (alert,) = svc.alerts(open_only=True)
    assert alert["retrospective"] and not alert["notified"]
    assert svc.outbox() == []
    svc.ingest(series("1462A", T0 - timedelta(minutes=1), [310]))      # live data confirms it
    svc.dispatch_once()
    (body,) = receiver.bodies()
    assert body["event"] == "issued" and body["retrospective"] is True


def test_replayed_readings_change_nothing(sqlite_url, make_service, clock, receiver, tmp_path):
    rcpts = recipients_file(tmp_path, {"team-xian": [{"type": "webhook", "url": receiver.url}]})
    svc = make_service(sqlite_url, rules=PM25_RULES, recipients=rcpts)
    clock.set(T0)
    data = series("1462A", T0 - timedelta(minutes=20), [300] * 5)
    svc.ingest(data)
    before = (svc.alerts(), svc.audit(), svc.outbox())
    svc.ingest(data)
    svc.ingest(data[::-1])
    assert (svc.alerts(), svc.audit(), svc.outbox()) == before
