"""Silences (maintenance windows): matchers, a held notification released when the silence
ends if the alert is still active, expiry and deletion audited. Real PostgreSQL, injected
clock."""
from __future__ import annotations

from datetime import timedelta

import pytest

from alerts.errors import InvalidTransition

from alerts_platform_helpers import PM25_RULES, T0, recipients_file, series


def _hooked(tmp_path, receiver):
    return recipients_file(tmp_path, {"team-xian": [{"type": "webhook", "url": receiver.url}],
                                      "team-baoji": [{"type": "webhook",
                                                      "url": receiver.url}]})


def _step(svc, clock, at):
    clock.set(at)
    svc.tick()
    svc.dispatch_once()


def test_a_silence_holds_then_releases_the_notification(pg_url, make_service, clock,
                                                       receiver, tmp_path):
    svc = make_service(pg_url, rules=PM25_RULES, recipients=_hooked(tmp_path, receiver))
    clock.set(T0)
    sid = svc.silence(city="xian", kind="air.*", starts=T0, ends=T0 + timedelta(hours=1),
                      by="西安值班", reason="高压开关厂站点维护")
    svc.ingest(series("1462A", T0 - timedelta(minutes=20), [300] * 5))   # Xi'an: silenced
    svc.ingest(series("1474A", T0 - timedelta(minutes=20), [300] * 5))   # Xi'an too
    svc.dispatch_once()
    assert receiver.requests == []
    xian = sorted(svc.alerts(open_only=True), key=lambda a: a["subject"])
    assert [a["state"] for a in xian] == ["active", "active"]            # state kept
    for a in xian:
        trail = svc.audit(a["id"])
        assert [t["action"] for t in trail] == ["opened", "activated", "suppressed"]
        assert sid in trail[-1]["reason"]
    _step(svc, clock, T0 + timedelta(minutes=59))                        # still silenced
    assert receiver.requests == []
    # 1474A ends before the silence does: nothing is sent for it
    svc.ingest(series("1474A", T0 + timedelta(minutes=5), [50] * 14))
    _step(svc, clock, T0 + timedelta(hours=1))                           # the silence ends
    assert receiver.wait_count(1)
    assert [(b["subject"]["station"], b["event"]) for b in receiver.bodies()] == [
        ("1462A", "issued")]


def test_a_silence_matches_only_what_it_names(sqlite_url, make_service, clock, receiver,
                                              tmp_path):
    svc = make_service(sqlite_url, rules=PM25_RULES, recipients=_hooked(tmp_path, receiver))
    clock.set(T0)
    svc.silence(city="xian", level="yellow", ends=T0 + timedelta(hours=1), by="a", reason="r")
    svc.silence(station="1462A", kind="river.*", ends=T0 + timedelta(hours=1), by="a",
                reason="r")
    svc.ingest(series("1462A", T0 - timedelta(minutes=20), [300] * 5))   # red: not matched
    svc.ingest(series("1463A", T0 - timedelta(minutes=20), [200] * 5))   # yellow: silenced
    svc.ingest(series("SIM-BAOJI-01", T0 - timedelta(minutes=20), [200] * 5))   # Baoji: not
    svc.dispatch_once()
    assert receiver.wait_count(2)
    assert sorted(b["subject"]["station"] for b in receiver.bodies()) == ["1462A", "SIM-BAOJI-01"]


def test_expire_releases_and_delete_is_audited(sqlite_url, make_service, clock, receiver,
                                               tmp_path):
    svc = make_service(sqlite_url, rules=PM25_RULES, recipients=_hooked(tmp_path, receiver))
    clock.set(T0)
    sid = svc.silence(station="1462A", ends=T0 + timedelta(hours=4), by="王工", reason="校准")
    svc.ingest(series("1462A", T0 - timedelta(minutes=20), [300] * 5))
    _step(svc, clock, T0 + timedelta(minutes=10))
    assert receiver.requests == []
    assert [s["status"] for s in svc.silences()] == ["active"]
    svc.expire_silence(sid, "王工")
    assert svc.silence_get(sid)["status"] == "expired"
    with pytest.raises(InvalidTransition):
        svc.expire_silence(sid, "王工")
    _step(svc, clock, T0 + timedelta(minutes=11))
    assert receiver.wait_count(1) and receiver.bodies()[0]["event"] == "issued"
    svc.delete_silence(sid, "admin")
    assert svc.silences() == []
    assert [a["action"] for a in svc.silence_audit(sid)] == [
        "silence_created", "silence_expired", "silence_deleted"]
    assert svc.silence_audit(sid)[0]["evidence"]["station"] == "1462A"


def test_an_update_during_a_silence_is_sent_after_it(sqlite_url, make_service, clock,
                                                     receiver, tmp_path):
    svc = make_service(sqlite_url, rules=PM25_RULES, recipients=_hooked(tmp_path, receiver))
    clock.set(T0)
    svc.ingest(series("1462A", T0 - timedelta(minutes=20), [200] * 5))   # yellow, sent
    svc.dispatch_once()
    assert receiver.wait_count(1)
    svc.silence(station="1462A", ends=T0 + timedelta(minutes=30), by="a", reason="r")
    clock.set(T0 + timedelta(minutes=20))
    svc.ingest(series("1462A", T0 + timedelta(minutes=5), [300] * 4))    # red while silenced
    (a,) = svc.alerts(open_only=True)
    assert a["level"] == "red" and a["held"] == "updated"
    svc.dispatch_once()
    assert len(receiver.requests) == 1
    _step(svc, clock, T0 + timedelta(minutes=30))
    assert receiver.wait_count(2)
    assert [(b["event"], b["level"]) for b in receiver.bodies()] == [
        ("issued", "yellow"), ("updated", "red")]


def test_a_retrospective_alert_confirmed_live_under_a_silence_is_sent_when_it_ends(
        sqlite_url, make_service, clock, receiver, tmp_path):
    """Readings from two hours ago open the alert retrospectively (not paged: older than the
    30 min retrospective limit); live readings then confirm it while a silence is in force,
    so the issue is held; when the silence ends the alert, live and still active, is sent."""
    svc = make_service(sqlite_url, rules=PM25_RULES, recipients=_hooked(tmp_path, receiver))
    clock.set(T0)
    sid = svc.silence(city="xian", kind="air.*", ends=T0 + timedelta(hours=1), by="a",
                      reason="维护")
    svc.ingest(series("1462A", T0 - timedelta(hours=2), [350] * 5))      # retrospective
    (a,) = svc.alerts(open_only=True)
    assert a["retrospective"] and not a["notified"]
    svc.ingest(series("1462A", T0 - timedelta(minutes=10), [350] * 3))   # live: confirmed
    svc.dispatch_once()
    assert receiver.requests == []                                       # held by the silence
    _step(svc, clock, T0 + timedelta(minutes=30))
    assert receiver.requests == []
    svc.expire_silence(sid, "a")
    _step(svc, clock, T0 + timedelta(minutes=31))
    assert receiver.wait_count(1)
    assert [(b["subject"]["station"], b["event"], b["level"]) for b in receiver.bodies()] == [
        ("1462A", "issued", "red")]
