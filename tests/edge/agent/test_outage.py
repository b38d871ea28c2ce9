"""Broker outage of 60 s while devices keep sending: nothing lost, no duplicates after de-dup,
oldest first."""
from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from edge.agent import EdgeAgent

from .conftest import AIR, CST, Feeder, make_config

pytestmark = pytest.mark.services
MNS = ("MN0000000000000000000001", "MN0000000000000000000002")


def test_broker_outage_loses_nothing(tmp_path, mosquitto, subscriber):
    base = datetime.now(CST).replace(second=0, microsecond=0) - timedelta(days=2)
    with EdgeAgent(make_config(tmp_path), mqtt_url=mosquitto.url) as agent:
        feeders = [Feeder(agent.ports["hj212"], mn, base, pause=0.1) for mn in MNS]
        for f in feeders:
            f.start()
        time.sleep(3)
        mosquitto.stop()
        time.sleep(60)
        during = agent.stats["queue_depth"]
        mosquitto.start()
        time.sleep(3)
        for f in feeders:
            f.stop()
        want = {st: f.acked for st, f in zip(AIR, feeders)}
        total = sum(len(v) for v in want.values())
        assert subscriber.wait(lambda: len({(r.station, r.ts) for r in subscriber.readings()})
                               >= total, 60)
        assert during > 100  # the outage really queued readings
        for st, acked in want.items():
            got = subscriber.readings(st)
            first_seen = list(dict.fromkeys((r.ts, r.period) for r in got))
            assert [ts for ts, _ in first_seen] == [t.astimezone(got[0].ts.tzinfo)
                                                    for t in acked]  # all, once, oldest first
        assert subscriber.wait(lambda: agent.stats["queue_depth"] == 0, 10)
        assert subscriber.wait(lambda: all(subscriber.status.get(s, {}).get("state") == "online"
                                           for s in AIR), 10)
    assert subscriber.rejected == []
