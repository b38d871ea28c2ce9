"""Escalation without noise: each step tells its new recipients once; reminders to the
unacknowledged follow the level's repeat interval (from the alert's last message); an
acknowledgement stops them; a new peak level re-arms the ladder once. Real PostgreSQL,
injected clock, one tick a minute."""
from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from alerts_platform_helpers import PM25_RULES, T0, recipients_file, series

# red: reminders every 30 min; step 1 (province) at 45 min, step 2 (coordinator) at 2 h
RULES = {"escalation": {"red": {"renotify_every": "30m", "ladder": ["45m", "2h"]},
                        "yellow": {"renotify_every": "6h", "ladder": ["4h"]}},
         "rule": PM25_RULES["rule"]}
WHO = ("team-xian", "env-shaanxi", "fenwei-coordinator")



def _run(svc, clock, receiver, minutes, sent):
    for m in minutes:
        clock.set(T0 + timedelta(minutes=m))
        svc.tick()
        svc.dispatch_once()
        n = len(receiver.requests)
        receiver.wait_count(n)
        for b in receiver.bodies()[len(sent):]:
            sent.append((b["recipient"]["id"], b["event"], m))


def test_each_step_once_and_reminders_on_the_red_cadence(pg_url, make_service, clock,
                                                         receiver, tmp_path):
    rcpts = recipients_file(tmp_path, {w: [{"type": "webhook", "url": receiver.url}]
                                       for w in WHO})
    svc = make_service(pg_url, rules=RULES, recipients=rcpts)
    clock.set(T0)
    svc.ingest(series("1462A", T0 - timedelta(minutes=20), [300] * 5))   # red from T0
    svc.dispatch_once()
    assert receiver.wait_count(1)
    sent = [(b["recipient"]["id"], b["event"], 0) for b in receiver.bodies()]
    _run(svc, clock, receiver, range(1, 181), sent)
    by = defaultdict(list)
    for who, ev, m in sent:
        by[who].append((ev, m))
    # the team: issued at 0, reminded 30 min after each message of the alert: 30; the
    # escalation at 45 is a message (cadence from it): 75, 105; step 2 at 120: 150, 180
    assert by["team-xian"] == [("issued", 0), ("renotified", 30), ("renotified", 75),
                               ("renotified", 105), ("renotified", 150), ("renotified", 180)]
    # the province hears of it at step 1 (45 min), once, then with the reminders
    assert by["env-shaanxi"] == [("escalated", 45), ("renotified", 75), ("renotified", 105),
                                 ("renotified", 150), ("renotified", 180)]
    assert by["fenwei-coordinator"] == [("escalated", 120), ("renotified", 150),
                                        ("renotified", 180)]
    (alert,) = svc.alerts(open_only=True)
    svc.acknowledge(alert["id"], "张三")
    svc.dispatch_once()
    n = len(sent) + 3                                     # 'acknowledged' to all three
    assert receiver.wait_count(n)
    _run(svc, clock, receiver, range(181, 400, 7), sent)
    assert len(receiver.requests) == n                    # acknowledged: no more reminders


def test_a_new_peak_rearms_the_ladder_once(sqlite_url, make_service, clock, receiver,
                                           tmp_path):
    rcpts = recipients_file(tmp_path, {w: [{"type": "webhook", "url": receiver.url}]
                                       for w in WHO})
    svc = make_service(sqlite_url, rules=RULES, recipients=rcpts)
    clock.set(T0)
    svc.ingest(series("1462A", T0 - timedelta(minutes=20), [200] * 5))   # yellow (150-250)
    sent: list = []
    _run(svc, clock, receiver, range(0, 241, 10), sent)                 # yellow step 1 at 4 h
    assert [(w, e, m) for w, e, m in sent if e == "escalated"] == [
        ("env-shaanxi", "escalated", 240)]
    # red at 4 h 10 (a new peak: the red ladder starts again at 0)
    svc.ingest(series("1462A", T0 + timedelta(minutes=235), [300] * 4))
    _run(svc, clock, receiver, range(250, 400, 5), sent)
    esc = [(w, m) for w, e, m in sent if e == "escalated"]
    # red's step 1 at 45 min after the upgrade (between 250+45-5 and 250+45), step 2 at 2 h
    assert [w for w, _ in esc] == ["env-shaanxi", "env-shaanxi", "fenwei-coordinator"]
    # down to yellow and back up to red: not a new peak, the ladder is not re-armed
    n = len(esc)
    svc.ingest(series("1462A", T0 + timedelta(minutes=395), [200] * 4))
    svc.ingest(series("1462A", T0 + timedelta(minutes=415), [300] * 4))
    _run(svc, clock, receiver, range(440, 700, 10), sent)
    assert len([1 for _, e, _ in sent if e == "escalated"]) == n
