"""The alerts service as real processes on one PostgreSQL: kill -9 between state change and
delivery, and two processes side by side."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone

import httpx
import paho.mqtt.client as mqtt
import pytest
import sqlalchemy as sa

from core.wire import encode, reading_dict, readings_topic

from alerts_platform_helpers import recipients_file, wait_until

RULES = """
[[rule]]
id = "pm25-now"
type = "threshold"
kind = "air.realtime"
parameter = "pm25"
per = "station"
duration = "0s"
levels = [{ level = "yellow", above = 150, clear_below = 100 }]
"""
XIAN = ["1462A", "1463A", "1464A", "1465A", "1466A", "1467A", "1468A", "1469A", "1470A",
        "1471A", "1472A", "1473A", "1474A"]


def _spawn(tmp_path, name, pg_url, mosquitto, rcpts):
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    env = {**os.environ, "FENWEI_MQTT_URL": mosquitto.url, "FENWEI_STATE_URL": pg_url,
           "FENWEI_ALERTS_LEASE_S": "2", "FENWEI_ALERTS_BACKOFF_BASE_S": "0.2",
           "FENWEI_ALERTS_BACKOFF_MAX_S": "0.5", "FENWEI_ALERTS_POLL_INTERVAL_S": "0.05",
           # retries every 0.5 s at most: 8 attempts would dead-letter a row refused (503)
           # for 3 s, before the kill on a loaded machine; nothing here is about dead letters
           "FENWEI_ALERTS_MAX_ATTEMPTS": "1000",
           "FENWEI_ALERTS_INSTANCE": name, "PYTHONUNBUFFERED": "1",
           # these count single messages on the wall clock: grouping (default 30 s) off
           "FENWEI_ALERTS_GROUP_WAIT": "0s",
           # port 0 and a file naming the bound port: a port picked here could be taken by
           # another test's connection before the process binds it (seen in CI)
           "FENWEI_HEALTH_PORT": "0",
           "FENWEI_HEALTH_PORT_FILE": str(tmp_path / f"{name}.port")}
    log = tmp_path / f"{name}.log"        # a file, not a pipe: nothing to keep reading
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "core.cli", "alerts", "run", "--rules",
                                 str(rules), "--recipients", str(rcpts)], env=env, stderr=err,
                                stdout=subprocess.DEVNULL, text=True)
    if wait_until(lambda: "alerts: running" in log.read_text() or proc.poll() is not None, 120) \
            and proc.poll() is None:
        # "running" comes before the broker granted the subscription: a reading published
        # earlier would reach no session yet (the first start of this id)
        port_file = tmp_path / f"{name}.port"
        assert wait_until(port_file.exists, 30), "no health port file"
        ready = f"http://127.0.0.1:{port_file.read_text()}/ready"
        assert wait_until(lambda: _ready(ready), 30), "alerts service never ready"
        return proc
    proc.kill()
    proc.wait()
    raise AssertionError("alerts service did not start:\n" + log.read_text()[-5000:])


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _publish_all(port, stations, value=200.0):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-pub-{os.getpid()}")
    c.connect("127.0.0.1", port)
    c.loop_start()
    for i, st in enumerate(stations):
        payload = encode(st, i, [reading_dict(now - timedelta(seconds=10), "PT5M",
                                              {"pm25": value})])
        c.publish(readings_topic("xian", "air", st), payload, qos=1).wait_for_publish(5)
    c.loop_stop()
    c.disconnect()


def _stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_kill9_between_state_change_and_delivery(tmp_path, pg_url, mosquitto, receiver):
    rcpts = recipients_file(tmp_path, {"team-xian": [{"type": "webhook", "url": receiver.url}]})
    receiver.status = 503                      # state changes commit; deliveries cannot land
    eng = sa.create_engine(pg_url)
    proc = _spawn(tmp_path, "killed", pg_url, mosquitto, rcpts)
    try:
        _publish_all(mosquitto.port, XIAN[:4])
        q = sa.text("SELECT count(*) FROM outbox WHERE channel = 'webhook'")
        with eng.connect() as c:
            assert wait_until(lambda: c.execute(q).scalar() == 4, 20)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        with eng.connect() as c:
            assert c.execute(sa.text(
                "SELECT count(*) FROM outbox WHERE status = 'delivered' AND channel = 'webhook'"
            )).scalar() == 0
        receiver.status = 200
        proc = _spawn(tmp_path, "restarted", pg_url, mosquitto, rcpts)
        assert receiver.wait_count(4, 30)
        with eng.connect() as c:
            assert wait_until(lambda: c.execute(sa.text(
                "SELECT count(*) FROM outbox WHERE status <> 'delivered' "
                "AND channel = 'webhook'")).scalar() == 0, 20)
        keys = receiver.keys()
        assert len(set(keys)) == 4 and Counter(keys).most_common(1)[0][1] == 1
        assert {b["subject"]["station"] for b in receiver.bodies()} == set(XIAN[:4])
    finally:
        _stop(proc)
        eng.dispose()


def test_two_processes_one_database(tmp_path, pg_url, mosquitto, receiver):
    rcpts = recipients_file(tmp_path, {"team-xian": [{"type": "webhook", "url": receiver.url}]})
    a = _spawn(tmp_path, "proc-a", pg_url, mosquitto, rcpts)
    try:
        b = _spawn(tmp_path, "proc-b", pg_url, mosquitto, rcpts)
    except BaseException:
        _stop(a)
        raise
    eng = sa.create_engine(pg_url)
    try:
        for _ in range(3):                      # the same readings three times over
            _publish_all(mosquitto.port, XIAN)
        assert receiver.wait_count(len(XIAN), 30)
        with eng.connect() as c:
            assert wait_until(lambda: c.execute(sa.text(
                "SELECT count(*) FROM outbox WHERE status <> 'delivered'")).scalar() == 0, 20)
            per_subject = c.execute(sa.text(
                "SELECT subject, count(*) FROM alerts GROUP BY subject")).all()
            claimed_by = {r[0] for r in c.execute(sa.text(
                "SELECT DISTINCT instance FROM receipts"))}
        assert len(per_subject) == len(XIAN) and all(n == 1 for _, n in per_subject)
        keys = receiver.keys()
        assert len(keys) == len(set(keys)) == len(XIAN), Counter(keys).most_common(3)
        assert claimed_by <= {"proc-a", "proc-b"}
        bodies = receiver.bodies()
        assert all(json.dumps(x, ensure_ascii=False) for x in bodies)
    finally:
        _stop(a)
        _stop(b)
        eng.dispose()


@pytest.mark.parametrize("n_threads", [4])
def test_concurrent_services_same_readings(pg_url, make_service, clock, n_threads,
                                           tmp_path):
    """Several services (own engines and connections) ingest the same readings at once."""
    import threading

    from alerts_platform_helpers import PM25_RULES, T0, series
    svcs = [make_service(pg_url, rules=PM25_RULES) for _ in range(n_threads)]
    data = series("1462A", T0 - timedelta(minutes=20), [300] * 5)
    clock.set(T0)
    barrier = threading.Barrier(n_threads)

    def go(s):
        barrier.wait()
        s.ingest(data)
    ts = [threading.Thread(target=go, args=(s,)) for s in svcs]
    [t.start() for t in ts]
    [t.join(30) for t in ts]
    mine = [a for a in svcs[0].alerts() if a["subject"] == "station:1462A"
            and a["rule_id"] == "pm25-station"]
    assert len(mine) == 1 and mine[0]["level"] == "red"
    rows = [r for r in svcs[0].outbox(alert_id=mine[0]["id"]) if r["event"] == "issued"]
    assert len(rows) == len({r["idempotency_key"] for r in rows})
