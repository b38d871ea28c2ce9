"""End to end on real PostgreSQL, Mosquitto, an HTTP receiver and an SMTP server:
a threshold rule fires, the team is notified on every channel, acknowledges, the alert lifts
with hysteresis, and the audit log holds every step."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta

import paho.mqtt.client as mqtt

from alerts.channels import verify_signature
from core.wire import encode, reading_dict, readings_topic

from alerts_platform_helpers import PM25_RULES, T0, recipients_file, settled, wait_until

SECRET = "s3cret-xian"


class Topics:
    def __init__(self, url_port: int, pattern: str) -> None:
        self.msgs: list[tuple[str, dict, bool]] = []
        self.cond = threading.Condition()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="t-alerts-watch")
        self.c.on_connect = lambda c, u, f, rc, p=None: c.subscribe(pattern, qos=1)
        self.c.on_message = self._on
        self.c.connect("127.0.0.1", url_port)
        self.c.loop_start()

    def _on(self, c, u, m):
        with self.cond:
            self.msgs.append((m.topic, json.loads(m.payload), m.retain))
            self.cond.notify_all()

    def wait(self, pred, timeout=10.0) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: pred(self.msgs), timeout)

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def _publish(client, station, city, seq, ts, value):
    payload = encode(station, seq, [reading_dict(ts, "PT5M", {"pm25": value})])
    client.publish(readings_topic(city, "air", station), payload, qos=1).wait_for_publish(5)


def test_fire_notify_ack_lift(pg_url, mosquitto, receiver, smtp, clock, make_service,
                              tmp_path):
    rcpts = recipients_file(tmp_path, {"team-xian": [
        {"type": "webhook", "url": receiver.url, "secret": SECRET},
        {"type": "email", "to": ["duty@xian.example"]}]})
    watch = Topics(mosquitto.port, "fenwei/v1/alerts/xian/#")
    svc = make_service(pg_url, rules=PM25_RULES, recipients=rcpts, dispatch=True,
                       mqtt_url=mosquitto.url, smtp_url=smtp.url)
    assert svc.subscriber.subscribed.wait(10)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="t-alerts-pub")
    pub.connect("127.0.0.1", mosquitto.port)
    pub.loop_start()
    try:
        for i, v in enumerate([180, 190, 185, 200]):           # 15 min above 150 → yellow
            clock.set(T0 + timedelta(minutes=5 * i))
            _publish(pub, "1462A", "xian", i, T0 + timedelta(minutes=5 * i), v)
        assert receiver.wait_count(1), "webhook not received"
        issued = receiver.bodies()[0]
        assert issued["event"] == "issued" and issued["level"] == "yellow"
        assert issued["recipient"]["id"] == "team-xian"
        assert issued["subject"]["cities"] == ["xian"] and issued["retrospective"] is False
        raw = receiver.requests[0]
        ts = raw["headers"]["X-Fenwei-Timestamp"]          # wall clock: receivers check it
        assert abs(int(ts) - time.time()) < 60
        want = "sha256=" + hmac.new(SECRET.encode(), ts.encode() + b"." + raw["raw"],
                                    hashlib.sha256).hexdigest()
        assert raw["headers"]["X-Fenwei-Signature"] == want
        assert verify_signature(SECRET, raw["raw"], ts, want, time.time())
        assert raw["headers"]["X-Fenwei-Idempotency-Key"] == issued["idempotency_key"]
        assert smtp.wait_count(1), "e-mail not received"
        rcpt_tos, msg = smtp.messages[0]
        assert rcpt_tos == ["duty@xian.example"]
        assert "黄色预警" in msg["Subject"]
        assert watch.wait(lambda ms: any(t.endswith("/events") for t, _, _ in ms))
        assert watch.wait(lambda ms: any(t == "fenwei/v1/alerts/xian" and b["alerts"]
                                         for t, b, _ in ms))

        svc.acknowledge_token(issued["ack_token"], "张三", "已启动Ⅲ级响应")
        assert receiver.wait(lambda r: any(b["event"] == "acknowledged" for b in r.bodies()))

        clock.set(T0 + timedelta(minutes=20))
        _publish(pub, "1462A", "xian", 10, T0 + timedelta(minutes=20), 120)  # hysteresis: hold
        clock.set(T0 + timedelta(minutes=25))
        _publish(pub, "1462A", "xian", 11, T0 + timedelta(minutes=25), 130)
        # the alert is still open after both readings (barrier: a third reading that lifts it)
        clock.set(T0 + timedelta(minutes=30))
        _publish(pub, "1462A", "xian", 12, T0 + timedelta(minutes=30), 90)
        assert receiver.wait(lambda r: any(b["event"] == "lifted" for b in r.bodies()))
        events = [b["event"] for b in receiver.bodies()]
        assert events == ["issued", "acknowledged", "lifted"]
        lifted = receiver.bodies()[-1]
        assert "<msgType>Cancel</msgType>" in lifted["cap"]
        assert watch.wait(lambda ms: [b for t, b, _ in ms if t == "fenwei/v1/alerts/xian"][-1]
                          ["alerts"] == [])

        (alert,) = svc.alerts()
        assert alert["state"] == "resolved" and alert["ack_by"] == "张三"
        steps = [(a["action"], a["to_state"]) for a in svc.audit(alert["id"])]
        # Xi'an is all the alert covers: its link acknowledges it, and the acknowledgement's
        # audit row records the spent token (single use)
        assert steps == [("opened", "pending"), ("activated", "active"),
                         ("acknowledged", "acknowledged"), ("resolved", "resolved")]
        assert svc.audit(alert["id"])[2]["evidence"]["token"]
        resolved = svc.audit(alert["id"])[-1]
        assert resolved["evidence"]["value"] == 90 and "hysteresis" in resolved["reason"]
        assert svc.audit(alert["id"])[2]["actor"].startswith("张三 via link:team-xian")
        assert not svc.dead_letters()
        # proof of receipt: every row delivered with a receipt
        assert wait_until(lambda: settled(svc))
        rows = svc.outbox()
        assert rows and all(r["status"] == "delivered" for r in rows)
        assert all(svc.receipts(r["id"])[-1]["ok"] for r in rows)
    finally:
        pub.loop_stop()
        pub.disconnect()
        watch.close()
