"""Bad packets (fuzzed) never crash the agent; each is answered or dropped with a reason."""
from __future__ import annotations

import random
import socket
import time
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from core.catalogue import load_catalogue
from edge.agent import EdgeAgent, device_table
from edge.agent._hj212 import Hj212Session
from edge.agent._sl651 import Sl651Session
from edge.agent._stats import Stats
from edge.protocols import hj212, sl651

from .conftest import ADDR, CST, Hj212Device, make_config

MN1 = "MN0000000000000000000001"
NOW = datetime(2026, 11, 25, 8, 0, tzinfo=CST)
GOOD_HJ = hj212.encode_upload("2051", MN1, NOW, {"a34004": 12.5, "a21026": 3}, ack=True)
GOOD_SL = sl651.encode_up(0x32, ADDR, serial=7, sent=NOW, password=0x1234,
                          values={"stage": 351.2, "discharge": 12.0})[0]
FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


class _Sink:
    def __init__(self):
        self.readings = []

    def submit(self, readings):
        self.readings += readings
        return True


def _devices(tmp_path_factory=None):
    import tempfile
    from pathlib import Path
    return device_table(make_config(Path(tempfile.mkdtemp())), load_catalogue())


DEVICES = _devices()


def _accounted(stats: Stats) -> int:
    snap = stats.snapshot()
    return snap.get("packets", 0) + sum(v for k, v in snap.items() if k.startswith("errors."))


def _mutate(data: bytes, rnd: random.Random, n: int) -> bytes:
    b = bytearray(data)
    for _ in range(n):
        op = rnd.randrange(3)
        i = rnd.randrange(len(b))
        if op == 0:
            b[i] = rnd.randrange(256)
        elif op == 1 and len(b) > 4:
            del b[i]
        else:
            b.insert(i, rnd.randrange(256))
    return bytes(b)


def _hj(stats):
    return Hj212Session(DEVICES["hj212"], _Sink(), stats)


@FUZZ
@given(st.binary(max_size=600))
def test_hj212_random_bytes(data):
    stats = Stats()
    s = _hj(stats)
    s.feed(data)
    s.close()
    assert s.feed(GOOD_HJ) and stats.get("packets") >= 1  # still answers a good packet


@FUZZ
@given(st.integers(0, 2**32), st.integers(1, 4))
def test_hj212_mutated_packet_answered_or_counted(seed, n):
    stats = Stats()
    s = _hj(stats)
    bad = _mutate(GOOD_HJ, random.Random(seed), n)
    replies = s.feed(bad) + s.close()
    assert stats.get("errors.internal") == 0
    if not replies:  # not answered: decoded and handled, or dropped with a counted reason
        assert _accounted(stats) >= 1 or s._decoder.stats.skipped_bytes > 0


@FUZZ
@given(st.binary(max_size=400))
def test_sl651_random_bytes(data):
    stats = Stats()
    s = Sl651Session(DEVICES["sl651"], _Sink(), stats, clock=time.time)
    s.feed(data)
    s.close()
    assert s.feed(GOOD_SL) and stats.get("errors.internal") == 0


@FUZZ
@given(st.integers(0, 2**32), st.integers(1, 4))
def test_sl651_mutated_frame_answered_or_counted(seed, n):
    stats = Stats()
    sink = _Sink()
    s = Sl651Session(DEVICES["sl651"], sink, stats, clock=time.time)
    bad = _mutate(GOOD_SL, random.Random(seed), n)
    replies = s.feed(bad) + s.close()
    assert stats.get("errors.internal") == 0
    if not replies:  # not answered: dropped with a counted reason (or no frame start left)
        snap = stats.snapshot()
        reasons = sum(v for k, v in snap.items() if k.startswith("errors.")) + \
            snap["unknown_device"] + snap["bad_password"]
        assert reasons >= 1 or b"\x7e\x7e" not in bad or s._decoder.skipped > 0


@pytest.mark.services
def test_agent_survives_garbage_over_tcp(tmp_path, mosquitto):
    rnd = random.Random(212)
    with EdgeAgent(make_config(tmp_path), mqtt_url=mosquitto.url) as agent:
        for name, good in (("hj212", GOOD_HJ), ("sl651", GOOD_SL)):
            for _ in range(20):
                with socket.create_connection(("127.0.0.1", agent.ports[name])) as s:
                    s.sendall(_mutate(good * 3, rnd, 8) + rnd.randbytes(200))
        time.sleep(0.5)
        dev = Hj212Device(agent.ports["hj212"], MN1)
        dev.connect()
        assert dev.upload(datetime.now(CST) - timedelta(minutes=1), {"a34004": 5}).cn == "9014"
        errors = {k: v for k, v in agent.stats["agent"].items() if k.startswith("errors.")}
        assert errors and "errors.internal" not in errors
