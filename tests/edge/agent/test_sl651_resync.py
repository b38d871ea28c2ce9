"""Over TCP: an SL 651 frame with a corrupted length byte costs that frame only (issue 16
item 10, the agent's side): the reports after it are answered and published."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from edge.agent import EdgeAgent

from .conftest import CST, HYDRO, Sl651Device, make_config

pytestmark = pytest.mark.services
# the frame: 7E 7E, centre 05, station 0011223344, password 0001, function 32, then
# a length word 0FFF (up, 4095 bytes: corrupted) and STX: it claims far more than follows
CORRUPT = bytes.fromhex("7E7E0500112233440001320FFF02")


def test_corrupted_length_costs_one_frame(tmp_path, mosquitto, subscriber):
    assert subscriber.subscribed.wait(10)
    with EdgeAgent(make_config(tmp_path), mqtt_url=mosquitto.url) as agent:
        gauge = Sl651Device(agent.ports["sl651"])
        base = datetime.now(CST).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
        gauge.sock.sendall(CORRUPT)
        answers = [gauge.report(base + timedelta(hours=h), {"stage": 350.0 + h})
                   for h in range(3)]
        assert all(a is not None for a in answers)          # every later report answered
        assert subscriber.wait(lambda: len(subscriber.readings(HYDRO)) == 3, 15)
        got = sorted((r.ts, r.values["stage"]) for r in subscriber.readings(HYDRO))
        assert got == [(base + timedelta(hours=h), 350.0 + h) for h in range(3)]
        gauge.close()
