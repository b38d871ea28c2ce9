"""Devices feed an agent; a subscriber sees every reading, in order, flags matching faults."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import paho.mqtt.client as mqtt
import pytest

from core.wire import config_topic
from edge.agent import EdgeAgent
from edge.protocols import hj212

from .conftest import AIR, CST, HYDRO, Hj212Device, Sl651Device, make_config

pytestmark = pytest.mark.services
MN1, MN2 = "MN0000000000000000000001", "MN0000000000000000000002"


@pytest.fixture
def agent(tmp_path, mosquitto):
    with EdgeAgent(make_config(tmp_path), mqtt_url=mosquitto.url) as a:
        yield a


def _air_series(base: datetime):
    """12 readings with injected faults; returns [(data_time, factors, expected)]."""
    out = []
    for i in range(12):
        pm25 = {5: 600.0, 7: 5000.0}.get(i, 50.0 + i)
        so2 = 20.0 if 2 <= i <= 8 else 10.0 + i
        so2 = 150.0 if i == 9 else so2
        co = (900 + 10 * i, "M") if i == 3 else 900 + 10 * i
        flags = {}
        if i == 5:
            flags["pm25"] = "D"  # spike
        if i in (7, 8):
            flags["so2"] = "D"  # stuck: 6th and 7th identical value
        if i == 9:
            flags["so2"] = "T"  # above the instrument range (100), within physical range
        if i == 3:
            flags["co"] = "M"  # device flag carried through
        values = {"so2", "co"} | ({"pm25"} if i != 7 else set())  # 5000 is impossible: left out
        out.append((base + timedelta(minutes=i), {"a34004": pm25, "a21026": so2, "a21005": co},
                    flags, values))
    return out


def test_every_reading_arrives_in_order_with_qc_flags(agent, subscriber):
    base = datetime.now(CST).replace(second=0, microsecond=0) - timedelta(minutes=12)
    dev = Hj212Device(agent.ports["hj212"], MN1)
    dev.connect()
    series = _air_series(base)
    for ts, factors, _, _ in series:
        assert dev.upload(ts, factors).cn == "9014"
    skewed = Hj212Device(agent.ports["hj212"], MN2)
    skewed.connect()
    ahead = datetime.now(CST) + timedelta(hours=1)
    assert skewed.upload(ahead.replace(second=0, microsecond=0), {"a34004": 40}, qn=ahead).cn \
        == "9014"
    old = base - timedelta(hours=3)
    assert skewed.upload(old, {"a34004": 41}).cn == "9014"
    gauge = Sl651Device(agent.ports["sl651"])
    t0 = datetime.now(CST).replace(second=0, microsecond=0)
    for k, values in enumerate([{"stage": 351.2, "discharge": 120.0},
                                {"stage": 351.3, "discharge": None},
                                {"stage": 351.4, "discharge": 121.5}]):
        assert gauge.report(t0 + timedelta(minutes=5 * k - 15), values).end == 0x04

    assert subscriber.wait(lambda: len(subscriber.readings()) == 17, 20), subscriber.readings()
    assert subscriber.rejected == []
    got = subscriber.readings(AIR[0])
    assert [r.ts for r in got] == [ts.astimezone(r.ts.tzinfo) for (ts, *_), r in zip(series, got)]
    for (ts, _, flags, names), r in zip(series, got):
        assert r.flags == flags, (ts, r)
        assert set(r.values) == names
        assert not r.backfill and r.agent_ts is None
    assert got[0].values["co"] == pytest.approx(0.9)  # scale 0.001
    first, late = subscriber.readings(AIR[1])
    assert first.agent_ts is not None and abs(
        (first.ts - first.agent_ts).total_seconds() - 3600) < 60
    assert late.backfill and late.agent_ts is None
    hydro = subscriber.readings(HYDRO)
    assert [set(r.values) for r in hydro] == [{"stage", "discharge"}, {"stage"},
                                              {"stage", "discharge"}]
    stats = agent.stats["stations"]
    assert stats[AIR[0]]["qc.spike"] == 1 and stats[AIR[0]]["qc.stuck"] == 2
    assert stats[AIR[0]]["qc.above_range"] == 1
    assert stats[AIR[0]]["values_dropped.out_of_range"] == 1
    assert stats[AIR[1]]["qc.clock_skew"] == 1 and stats[AIR[1]]["backfill"] == 1
    seqs = [b.seq for b in subscriber.batches if b.station == AIR[0]]
    assert seqs == sorted(seqs) and seqs[0] == 0


def _qn_with_swappable_crc(dev: Hj212Device, data_time: datetime, factors: dict) -> datetime:
    """A QN for which ``dev``'s upload of ``factors`` has a CRC of two different bytes: when
    both bytes are equal (about 1 QN in 200), "byte-swapped" is the correct CRC and the
    upload is rightly accepted."""
    for ms in range(1000):
        qn = data_time + timedelta(milliseconds=ms)
        (part,) = hj212.build_upload("2051", dev.mn, data_time, factors, pw=dev.pw, qn=qn,
                                     ack=True)
        crc = int(hj212.encode_packet(part)[-6:-2], 16)
        if hj212.swap_bytes(crc) != crc:
            return qn
    raise AssertionError("no QN with a swappable CRC")


def test_refusals_use_the_protocols_error_replies(agent, subscriber):
    dev = Hj212Device(agent.ports["hj212"], "NOT-A-KNOWN-LOGGER")
    dev.connect()
    now = datetime.now(CST)
    reply = dev.upload(now, {"a34004": 10})
    assert (reply.cn, reply.cp["QnRtn"]) == ("9011", "4")
    dev.mn = MN1
    reply = dev.upload(now, {"a34004": 10}, pw="000000")
    assert (reply.cn, reply.cp["QnRtn"]) == ("9011", "3")
    reply = dev.upload(now, {"a34004": 10}, swapped=True,  # not tolerated for MN1
                       qn=_qn_with_swappable_crc(dev, now, {"a34004": 10}))
    assert (reply.cn, reply.cp["QnRtn"]) == ("9011", "9")
    dev2 = Hj212Device(agent.ports["hj212"], MN2)
    dev2.connect()
    assert dev2.upload(now, {"a34004": 10}, swapped=True).cn == "9014"  # tolerated, counted
    gauge = Sl651Device(agent.ports["sl651"])
    assert gauge.report(now, {"stage": 1.0}, password=0x9999, timeout=1.0) is None
    s = agent.stats
    assert s["agent"]["unknown_device"] == 1
    assert s["stations"][AIR[0]]["bad_password"] == 1
    assert s["stations"][AIR[0]]["crc_errors"] == 1
    assert s["stations"][AIR[1]]["crc_swapped"] == 1
    assert s["stations"][HYDRO]["bad_password"] == 1
    assert subscriber.wait(lambda: len(subscriber.readings()) == 1, 10)


def test_remote_config_applies_and_rejects(agent, mosquitto, subscriber):
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    pub.connect("127.0.0.1", mosquitto.port)
    pub.loop_start()
    topic = config_topic("xian", "air", AIR[0])
    pub.publish(topic, json.dumps({"interval_s": 60, "qc": {"spike": {"pm25": 5}}}),
                qos=1, retain=True).wait_for_publish()
    assert subscriber.wait(lambda: subscriber.status.get(AIR[0], {}).get("config", {})
                           .get("state") == "remote", 10)
    pub.publish(topic, b'{"qc": {"stuck_count": 1}}', qos=1, retain=True).wait_for_publish()
    assert subscriber.wait(lambda: "error" in subscriber.status.get(AIR[0], {})
                           .get("config", {}), 10)
    state = subscriber.status[AIR[0]]["config"]
    assert state["state"] == "remote" and "stuck_count" in state["error"]
    dev = Hj212Device(agent.ports["hj212"], MN1)
    dev.connect()
    base = datetime.now(CST).replace(second=0, microsecond=0) - timedelta(minutes=5)
    for i, v in enumerate([50, 52, 70]):  # 70 jumps by 18 > 5: the remote threshold holds
        dev.upload(base + timedelta(minutes=i), {"a34004": v})
    assert subscriber.wait(lambda: len(subscriber.readings(AIR[0])) == 3, 10)
    assert [r.flag("pm25") for r in subscriber.readings(AIR[0])] == ["N", "N", "D"]
    pub.loop_stop()
