"""The durable queue: bounds and policies, seq across restarts, disk full."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

import pytest

from edge.agent import DurableQueue, EdgeAgent, QueueFullError

from .conftest import AIR, CST, Hj212Device, Subscriber, make_config

MN1 = "MN0000000000000000000001"


def _rows(n, start=0, station="S", size=10):
    return [(station, float(start + i), "PT1M", json.dumps({"i": start + i, "pad": "x" * size}))
            for i in range(n)]


@pytest.mark.parametrize("policy", ["drop_oldest", "reject_new"])
def test_count_bound_policy(tmp_path, policy):
    q = DurableQueue(tmp_path / "q.sqlite", max_readings=5, policy=policy)
    assert q.put(_rows(5)).stored == 5
    if policy == "drop_oldest":
        assert q.put(_rows(3, 5)).dropped_oldest == 3
        assert [json.loads(b)["i"] for m in q.take("S", 1, 10) for b in m.bodies] == [3, 4, 5, 6, 7]
    else:
        with pytest.raises(QueueFullError):
            q.put(_rows(1, 5))
    assert q.depth() == 5


def test_disk_full_drops_oldest(tmp_path):
    q = DurableQueue(tmp_path / "q.sqlite", max_mb=1, policy="drop_oldest")
    dropped = sum(q.put(_rows(50, 50 * k, size=2000)).dropped_oldest for k in range(20))
    assert dropped > 0 and q.depth() == 1000 - dropped
    r = DurableQueue(tmp_path / "r.sqlite", max_mb=1, policy="reject_new")
    with pytest.raises(QueueFullError):
        for k in range(20):
            r.put(_rows(50, 50 * k, size=2000))


def test_seq_and_assigned_messages_survive_restart(tmp_path):
    q = DurableQueue(tmp_path / "q.sqlite")
    q.put(_rows(7))
    msgs = q.take("S", 3, 3)
    assert [(m.seq, len(m.ids)) for m in msgs] == [(0, 3), (1, 3), (2, 1)]
    q.ack(list(msgs[0].ids))
    q.close()
    q = DurableQueue(tmp_path / "q.sqlite")  # as after kill -9: messages 1 and 2 unacked
    again = q.assigned("S")
    assert [(m.seq, m.ids) for m in again] == [(1, msgs[1].ids), (2, msgs[2].ids)]
    q.put(_rows(1, 7))
    assert q.take("S", 1, 10)[0].seq == 3
    assert q.depth() == 5


def test_no_duplicate_ts_in_one_message(tmp_path):
    q = DurableQueue(tmp_path / "q.sqlite")
    q.put(_rows(2) + _rows(2))  # a logger resent the same two readings
    assert [len(m.ids) for m in q.take("S", 5, 10)] == [2, 2]


@pytest.mark.services
@pytest.mark.parametrize("policy", ["drop_oldest", "reject_new"])
def test_tiny_queue_policy_counted_and_announced(tmp_path, mosquitto, catalogue, policy):
    # subscribed before the outage: its persistent session gets what the agent sends the moment
    # it reconnects (a subscriber connecting after the restart could miss it)
    sub = Subscriber(mosquitto.port, catalogue)
    try:
        assert sub.subscribed.wait(10)
        mosquitto.stop()
        _fill_tiny_queue_then_reconnect(tmp_path, mosquitto, sub, policy)
    finally:
        sub.close()


def _fill_tiny_queue_then_reconnect(tmp_path, mosquitto, sub, policy):
    cfg = make_config(tmp_path, queue={"max_readings": 5, "policy": policy})
    with EdgeAgent(cfg, mqtt_url=mosquitto.url) as agent:
        dev = Hj212Device(agent.ports["hj212"], MN1)
        dev.connect()
        base = datetime.now(CST).replace(second=0, microsecond=0) - timedelta(hours=1)
        replies = [dev.upload(base + timedelta(minutes=i), {"a34004": 10 + i}, timeout=1.0)
                   for i in range(8)]
        answered = [r is not None and r.cn == "9014" for r in replies]
        st = agent.stats["agent"]
        if policy == "drop_oldest":
            assert all(answered) and st["dropped.queue_full"] == 3
        else:
            assert answered == [True] * 5 + [False] * 3 and st["rejected.queue_full"] == 3
        assert agent.stats["queue_depth"] == 5
        mosquitto.start()
        assert sub.wait(lambda: len(sub.readings(AIR[0])) == 5, 90)  # reconnect backoff
        want = [base + timedelta(minutes=i) for i in (range(3, 8) if policy == "drop_oldest"
                                                      else range(5))]
        assert [r.ts for r in sub.readings(AIR[0])] == want
        assert sub.wait(lambda: "queue_full" in sub.status.get(AIR[0], {}).get("alarms", []),
                        10)
        counters = sub.status[AIR[0]]["agent_counters"]
        key = "dropped.queue_full" if policy == "drop_oldest" else "rejected.queue_full"
        assert counters[key] == 3
