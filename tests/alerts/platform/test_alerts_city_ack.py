"""A regional alert is acknowledged city by city: a city that acknowledged hears no more
reminders or escalations of it, the others keep hearing until they acknowledge too."""
from __future__ import annotations

from datetime import timedelta

from alerts import Signal

from alerts_platform_helpers import PM25_RULES, T0, recipients_file

CITIES = ("xian", "xianyang", "linfen")
TEAMS = ("team-xian", "team-xianyang", "team-linfen", "env-shaanxi", "env-shanxi",
         "fenwei-coordinator")
RULES = {"escalation": PM25_RULES["escalation"], "rule": [{   # red: every 10m; 30m, 2h
    "id": "regional", "type": "threshold", "kind": "air.regional", "parameter": "pm25",
    "levels": [{"level": "red", "above": 1e9}]}]}


def _heard(rcv, event: str, seq: int | None = None) -> set[str]:
    return {b["recipient"]["id"] for b in rcv.bodies()
            if b["event"] == event and (seq is None or b["seq"] == seq)}


def test_a_city_that_acknowledged_is_not_reminded(sqlite_url, make_service, clock, receiver,
                                                  receiver2, tmp_path):
    rcpts = recipients_file(tmp_path, {t: [{"type": "webhook", "url": receiver.url}]
                                       for t in TEAMS})
    svc = make_service(sqlite_url, rules=RULES, recipients=rcpts, extra_webhook=receiver2.url,
                       catchall_exercise=False)
    clock.set(T0)
    svc.signal("regional", "region:fenwei", Signal("firing", T0, "red", {}, CITIES))
    svc.dispatch_once()
    assert _heard(receiver, "issued") == set(TEAMS)             # first time: everyone
    (alert,) = svc.alerts(open_only=True)

    def at(minutes):
        clock.set(T0 + timedelta(minutes=minutes))
        svc.tick()
        svc.dispatch_once()
        return svc.alert(alert["id"])["seq"]

    out = svc.acknowledge(alert["id"], "张三", cities={"xian"})
    assert out["state"] == "active" and out["acknowledged_cities"] == ["xian"]
    seq = at(10)
    others = set(TEAMS) - {"team-xian"}
    assert _heard(receiver, "renotified", seq) == others         # not Xi'an's team
    assert _heard(receiver2, "renotified", seq) == others        # nor its catch-all copy
    svc.acknowledge(alert["id"], "李四", cities={"xianyang"})      # Shaanxi is done
    seq = at(20)
    assert _heard(receiver, "renotified", seq) == {"team-linfen", "env-shanxi",
                                                   "fenwei-coordinator"}
    seq = at(30)                                                  # escalation step 1
    # a regional alert reaches the bureaus and the coordinator from the start: step 1 adds
    # nobody, so it tells nobody (an escalation notifies only its new recipients)
    assert not any(b["event"] == "escalated" for b in receiver.bodies())
    assert [a["action"] for a in svc.audit(alert["id"])].count("escalated") == 1
    audit = [a for a in svc.audit(alert["id"]) if a["action"] == "renotified"]
    assert audit[-1]["reason"].endswith("(waiting for linfen)")

    assert svc.acknowledge(alert["id"], "王五", cities={"linfen"})["state"] == "acknowledged"
    svc.dispatch_once()
    n1, n2 = len(receiver.requests), len(receiver2.requests)
    for m in (40, 60, 130, 240):
        at(m)
    assert (len(receiver.requests), len(receiver2.requests)) == (n1, n2)   # nobody reminded
    assert not {"renotified", "escalated"} & {b["event"] for b in receiver.bodies()
                                              if b["seq"] > seq}
