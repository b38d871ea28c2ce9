"""Routing by geography, silences, exercise mode, the catch-all recipient, SSE, data gaps."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from alerts import Signal, load_directory
from alerts._db import make_engine, migrate

from alerts_platform_helpers import PM25_RULES, T0, recipients_file, series


def _ids(routes):
    return sorted((r.recipient.id, r.meant_for.id if r.meant_for else None) for r in routes)


@pytest.mark.parametrize("kind,subject,step,want", [
    ("air.realtime", "station:1462A", 0, ["broadcast", "team-xian"]),
    ("air.realtime", "city:linfen", 1, ["broadcast", "env-shanxi", "team-linfen"]),
    ("air.realtime", "city:linfen", 2, ["broadcast", "env-shanxi", "fenwei-coordinator",
                                         "team-linfen"]),
    ("river.ecoflow", "section:lintong", 0, ["broadcast", "team-weinan", "team-xian",
                                             "water-shaanxi"]),
    ("river.ecoflow", "station:hejin", 0, ["broadcast", "team-linfen", "team-yuncheng",
                                           "water-shanxi"]),
], ids=["station→city team", "step1→province", "step2→coordinator", "section→along+water",
        "gauge station→its section"])
def test_routes(catalogue, kind, subject, step, want):
    d = load_directory(None, catalogue)
    cities = d.subject_cities(subject)
    assert [i for i, _ in _ids(d.route(kind, subject, cities, step=step))] == want


def test_regional_warning_reaches_every_city_team_and_their_bureaus(catalogue):
    d = load_directory(None, catalogue)
    cities = ("xian", "linfen", "luoyang")
    ids = [i for i, _ in _ids(d.route("air.regional", "region:fenwei", cities))]
    assert ids == ["broadcast", "env-henan", "env-shaanxi", "env-shanxi", "fenwei-coordinator",
                   "team-linfen", "team-luoyang", "team-xian"]
    assert len(d.subject_cities("region:fenwei")) == len(catalogue.fenwei_cities())


def test_silence_stops_notifications_not_state(sqlite_url, make_service, clock, receiver,
                                               tmp_path):
    rcpts = recipients_file(tmp_path, {"team-xian": [{"type": "webhook", "url": receiver.url}]})
    svc = make_service(sqlite_url, rules=PM25_RULES, recipients=rcpts)
    clock.set(T0 - timedelta(minutes=30))
    svc.silence(subject="station:1462A", ends=T0 + timedelta(minutes=10), by="运维",
                reason="仪器维护")
    clock.set(T0)
    svc.ingest(series("1462A", T0 - timedelta(minutes=20), [300] * 5))
    (alert,) = svc.alerts(open_only=True)
    assert alert["state"] == "active" and not alert["notified"]
    svc.tick()
    svc.dispatch_once()
    assert receiver.requests == []
    assert any(a["action"] == "suppressed" for a in svc.audit(alert["id"]))
    clock.set(T0 + timedelta(minutes=11))                     # the silence ended
    svc.tick()
    svc.dispatch_once()
    assert [b["event"] for b in receiver.bodies()] == ["issued"]


def test_exercise_mode_only_reaches_exercise_recipients(sqlite_url, make_service, clock,
                                                        receiver, receiver2, tmp_path):
    rcpts = recipients_file(tmp_path, {
        "team-xian": [{"type": "webhook", "url": receiver.url}],
        "_extra": [("drill-xian", {"role": "city_team", "city": "xian", "exercise": True,
                                   "name_zh": "西安演练组", "name_en": "Xi'an drill team",
                                   "channels": [{"type": "webhook", "url": receiver2.url}]})]})
    svc = make_service(sqlite_url, rules=PM25_RULES, recipients=rcpts, exercise=True)
    clock.set(T0)
    svc.ingest(series("1462A", T0 - timedelta(minutes=20), [300] * 5))
    svc.dispatch_once()
    assert receiver.requests == []
    (body,) = receiver2.bodies()
    assert body["exercise"] is True and body["text_zh"].startswith("【演练】")
    assert "<status>Exercise</status>" in body["cap"]
    assert {r["channel"] for r in svc.outbox()} == {"webhook"}     # drills are not broadcast


def test_a_whole_system_drill_copies_every_team_to_the_catch_all_and_is_broadcast(
        sqlite_url, make_service, clock, receiver, receiver2, tmp_path):
    """A replay on a warped clock (exercise, broadcast_exercises): no real team is notified,
    the catch-all gets a copy meant for each team the alert would reach, dashboards see it."""
    rcpts = recipients_file(tmp_path, {"team-xian": [{"type": "webhook", "url": receiver.url}]})
    svc = make_service(sqlite_url, rules=PM25_RULES, recipients=rcpts, exercise=True,
                       broadcast_exercises=True, extra_webhook=receiver2.url)
    clock.set(T0)
    svc.ingest(series("1462A", T0 - timedelta(minutes=20), [300] * 5))
    svc.dispatch_once()
    assert receiver.requests == []
    (copy,) = receiver2.bodies()
    assert copy["exercise"] is True and copy["recipient"]["id"] == "team-xian"
    assert "sse" in {r["channel"] for r in svc.outbox()}


def test_catch_all_webhook_gets_a_marked_copy_of_everything(sqlite_url, make_service, clock,
                                                            receiver, receiver2, tmp_path):
    rcpts = recipients_file(tmp_path, {"team-xian": [{"type": "webhook", "url": receiver.url}],
                                       "team-xianyang": [{"type": "email", "to": ["x@y.z"]}]})
    svc = make_service(sqlite_url, rules=PM25_RULES, recipients=rcpts,
                       extra_webhook=receiver2.url, catchall_exercise=False)
    clock.set(T0)
    svc.ingest(series("1462A", T0 - timedelta(minutes=20), [300] * 5))
    svc.dispatch_once()
    copies = receiver2.bodies()
    assert [c["recipient"]["id"] for c in copies] == ["team-xian"]
    assert all(c["copy_to"]["id"] == "catchall-webhook" for c in copies)
    assert len(receiver.bodies()) == 1


def test_sse_broadcast_and_insufficient_data(sqlite_url, make_service, clock):
    svc = make_service(sqlite_url, rules=PM25_RULES)
    q = svc.broadcaster.subscribe()
    clock.set(T0)
    svc.ingest(series("1462A", T0 - timedelta(minutes=20), [300] * 5))
    svc.dispatch_once()
    ev = q.get(timeout=5)
    assert ev["event"] == "issued" and ev["recipient"]["id"] == "broadcast"
    assert svc.broadcaster.format(ev).startswith("id: ")
    # flagged values only: the rule says insufficient, the alert stays open (no all clear)
    clock.set(T0 + timedelta(minutes=40))
    svc.ingest(series("1462A", T0 + timedelta(minutes=5), [10] * 7, flag="D"))
    (alert,) = svc.alerts(open_only=True)
    assert alert["state"] == "active"
    svc.tick()
    clock.set(T0 + timedelta(hours=3))
    svc.ingest(series("1463A", T0 + timedelta(hours=3), [100] * 3, flag="M"))
    assert svc.subject_status("pm25-station", "station:1463A")["status"] == "insufficient"
    assert svc.alerts(open_only=True)[0]["subject"] == "station:1462A"


def test_external_signal_and_partial_unique_index(pg_url, make_service, clock):
    svc = make_service(pg_url, rules={"rule": [{
        "id": "regional", "type": "threshold", "kind": "air.regional", "parameter": "pm25",
        "levels": [{"level": "orange", "above": 1e9}]}]})
    clock.set(T0)
    sig = Signal("firing", T0, "orange", {"prompt": "区域应急联动"}, ("xian", "linfen"))
    assert svc.signal("regional", "region:fenwei", sig) == 1
    assert svc.signal("regional", "region:fenwei", sig) == 0        # duplicate: no change
    (alert,) = svc.alerts()
    assert alert["cities"] == ["xian", "linfen"]
    eng = make_engine(pg_url)
    migrate(eng)                                                     # idempotent
    with pytest.raises(sa.exc.IntegrityError):
        with eng.begin() as c:
            row = dict(alert, id="other")
            c.execute(sa.text("INSERT INTO alerts SELECT :id, rule_id, subject, kind, level, "
                              "state, open, cities, exercise, retrospective, notified, "
                              "opened_at, activated_at, updated_at, resolved_at, "
                              "first_observed_at, observed_at, ack_by, ack_note, ack_at, "
                              "escalation_step, last_notified_at, seq, cap_refs, evidence "
                              "FROM alerts WHERE id = :src"), {"id": row["id"],
                                                               "src": alert["id"]})
    eng.dispose()
