"""The readings intake on real Mosquitto and PostgreSQL: a batch that cannot be evaluated is
retried until it is (never left unacknowledged on a live connection, which would stop intake
for good) and the stall shows; readings published while the service is down are evaluated
when it starts again (a stable client id with a persistent session)."""
from __future__ import annotations

from datetime import timedelta

import paho.mqtt.client as mqtt

from core.wire import encode, reading_dict, readings_topic

from alerts_platform_helpers import T0, wait_until

NOW_RULES = {"rule": [{
    "id": "pm25-now", "type": "threshold", "kind": "air.realtime", "parameter": "pm25",
    "per": "station", "duration": "0s",
    "levels": [{"level": "yellow", "above": 150, "clear_below": 100}]}]}


class Publisher:
    def __init__(self, port: int) -> None:
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-intake-pub-{port}")
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        self.seq = 0

    def reading(self, station: str, value: float, ts=T0) -> None:
        self.seq += 1
        payload = encode(station, self.seq, [reading_dict(ts, "PT5M", {"pm25": value})])
        self.c.publish(readings_topic("xian", "air", station), payload,
                       qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


def _opened(svc, station: str) -> bool:
    return any(a["subject"] == f"station:{station}" for a in svc.alerts(open_only=True))


def _gauge(svc, name: str) -> float | None:
    return svc.metrics.registry.get_sample_value(name)


def test_state_database_outage_stalls_intake_visibly_then_it_resumes(postgresql, mosquitto,
                                                                     make_service, clock):
    url = f"{postgresql.url}/postgres"
    svc = make_service(url, rules=NOW_RULES, mqtt_url=mosquitto.url,
                       intake_retry_initial_s=0.1, intake_retry_max_s=0.5)
    assert svc.subscriber.subscribed.wait(10)
    assert _gauge(svc, "fenwei_alerts_intake_stalled") == 0
    pub = Publisher(mosquitto.port)
    try:
        postgresql.stop()                       # evaluation fails after decoding
        pub.reading("1462A", 200)
        assert wait_until(lambda: svc.subscriber.stalled, 20)
        assert wait_until(lambda: svc.subscriber.failures >= 2, 20)    # retried, in-process
        assert _gauge(svc, "fenwei_alerts_intake_stalled") == 1
        stats = svc.stats()
        assert stats["intake_stalled"] is True and stats["intake"]["last_error"]
        assert stats["dead_notifications"] is None                      # the probe answers
        assert svc.subscriber.received == 0                             # nothing acknowledged
        postgresql.start()
        assert wait_until(lambda: _opened(svc, "1462A"), 60)
        assert wait_until(lambda: not svc.subscriber.stalled, 10)
        assert _gauge(svc, "fenwei_alerts_intake_stalled") == 0
        assert _gauge(svc, "fenwei_alerts_intake_failures_total") >= 2
        assert svc.subscriber.received == 1
        pub.reading("1463A", 210)               # intake goes on on the same connection
        assert wait_until(lambda: _opened(svc, "1463A"), 20)
        assert svc.stats()["intake_stalled"] is False
    finally:
        pub.close()


def test_readings_published_while_the_service_is_down_are_evaluated(sqlite_url, mosquitto,
                                                                     make_service, clock):
    first = make_service(sqlite_url, rules=NOW_RULES, mqtt_url=mosquitto.url)
    assert first.settings.client_id == "fenwei-alerts-alerts"   # stable: no random part
    assert first.subscriber.subscribed.wait(10)
    cid = first.subscriber.client_id
    first.stop()
    pub = Publisher(mosquitto.port)
    try:
        clock.set(T0 + timedelta(minutes=1))
        pub.reading("1462A", 220)               # nobody is subscribed right now
        again = make_service(sqlite_url, rules=NOW_RULES, mqtt_url=mosquitto.url)
        assert again.subscriber.client_id == cid
        assert wait_until(lambda: _opened(again, "1462A"), 20), \
            "a reading published during the restart was not evaluated"
        alert = next(a for a in again.alerts(open_only=True))
        assert alert["level"] == "yellow" and alert["state"] == "active"
    finally:
        pub.close()


def test_client_id_defaults_to_the_instance_then_the_group():
    from alerts import AlertSettings
    base = dict(state_url="sqlite://", mqtt_url="mqtt://127.0.0.1:1")
    assert AlertSettings(**base, instance="proc-a").resolved().client_id == \
        "fenwei-alerts-proc-a"
    assert AlertSettings(**base, share_group="east").resolved().client_id == \
        "fenwei-alerts-east"
    assert AlertSettings(**base, share_group="").resolved().client_id == \
        "fenwei-alerts-readings"
    assert AlertSettings(**base, client_id="mine").resolved().client_id == "mine"
