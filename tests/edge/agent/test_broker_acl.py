"""Behind per-station ACLs (what `fenwei broker config` generates) each station publishes
under its own user and client id, and a publish the broker refuses is never taken as delivered:
its readings stay queued with an alarm until the broker accepts them."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

import pytest

from core.localservers import Mosquitto
from core.wire import readings_topic
from edge.agent import ConfigError, EdgeAgent
from ingest.broker import write_config

from .conftest import AIR, CST, Hj212Device, Subscriber, make_config

pytestmark = pytest.mark.services
MNS = ("MN0000000000000000000001", "MN0000000000000000000002")
ALLOWED, FORBIDDEN = AIR


def _forbid_readings(acl: str, station) -> str:
    line = f"topic write {readings_topic(station.city, station.kind, station.id)}\n"
    assert line in acl
    return acl.replace(line, "")


@pytest.fixture
def broker(tmp_path, catalogue):
    """Mosquitto with the generated passwd and ACL, except that FORBIDDEN may not publish
    its readings (its status, yes); client ids bound to user names."""
    paths = write_config(tmp_path / "broker", catalogue)
    good = paths["acl"].read_text()
    acl = tmp_path / "broker" / "acl-in-use"
    acl.write_text(_forbid_readings(good, catalogue.stations[FORBIDDEN]))
    server = Mosquitto(tmp_path / "mq", password_file=paths["passwd"], acl_file=acl,
                       extra_config=["use_username_as_clientid true"])
    server.start()            # a broker refusing the generated config is a failure, not a skip
    server.fix_acl = lambda: acl.write_text(good)
    server.creds = paths["credentials"]
    yield server
    server.stop()


def _upload(dev: Hj212Device, base: datetime, n: int) -> list[datetime]:
    times = [base + timedelta(minutes=i) for i in range(n)]
    for ts in times:
        assert dev.upload(ts, {"a34004": 20 + ts.minute}).cn == "9014"
    return times


def test_refused_readings_stay_queued_with_an_alarm_until_the_acl_allows(
        tmp_path, catalogue, broker, caplog):
    creds = json.loads(broker.creds.read_text())
    sub = Subscriber(broker.port, catalogue, user="ingest", password=creds["ingest"])
    cfg = make_config(tmp_path, mqtt={"credentials_file": str(broker.creds)})
    base = datetime.now(CST).replace(second=0, microsecond=0) - timedelta(hours=1)
    try:
        assert sub.subscribed.wait(10)
        with EdgeAgent(cfg, mqtt_url=broker.url, catalogue=catalogue) as agent:
            devs = [Hj212Device(agent.ports["hj212"], mn) for mn in MNS]
            for d in devs:
                d.connect()
            sent = {st: _upload(d, base, 3) for st, d in zip(AIR, devs)}

            def alarm(st):
                return "publish_refused" in sub.status.get(st, {}).get("alarms", [])
            # the allowed station's readings and the other's alarm are the barrier
            assert sub.wait(lambda: len(sub.readings(ALLOWED)) == 3 and alarm(FORBIDDEN), 20)
            assert sub.status[FORBIDDEN]["refused"]["reason"] == "not_authorized"
            assert sub.wait(lambda: sub.status.get(ALLOWED, {}).get("refused", {})
                            .get("agent_stations") == [FORBIDDEN], 10)
            assert not alarm(ALLOWED)
            assert sub.readings(FORBIDDEN) == []
            counters = agent.stats["stations"][FORBIDDEN]
            assert counters["refused"] >= 3 and counters["refused.not_authorized"] >= 3
            assert counters["published"] == 0
            assert agent.stats["queue_depth"] == 3            # nothing deleted
            assert any(r.levelno == logging.ERROR and FORBIDDEN in r.getMessage()
                       and "refused" in r.getMessage() for r in caplog.records)

            broker.fix_acl()
            broker.restart()
            assert sub.wait(lambda: {r.ts for r in sub.readings(FORBIDDEN)} ==
                            set(sent[FORBIDDEN]), 30)
            assert sub.wait(lambda: agent.stats["queue_depth"] == 0 and not alarm(FORBIDDEN), 10)
            assert sub.status[FORBIDDEN]["refused"]["agent_stations"] == []
            assert agent.stats["stations"][FORBIDDEN]["published"] == 3
            for d in devs:
                d.close()
    finally:
        sub.close()
    assert sub.rejected == []


def test_a_station_without_credentials_is_refused_at_start(tmp_path, catalogue):
    creds = tmp_path / "credentials.json"
    creds.write_text(json.dumps({ALLOWED: "x", "lintong": "y"}))
    creds.chmod(0o600)
    agent = EdgeAgent(make_config(tmp_path, mqtt={"credentials_file": str(creds)}),
                      mqtt_url="mqtt://127.0.0.1:1", catalogue=catalogue)
    with pytest.raises(ConfigError, match=f"no credential for station.*{FORBIDDEN}"):
        agent.start()
