"""Device clocks and commands at the agent (issue 16 items 8 and 13), worked by hand.

The agent's clock is fixed at 2026-03-02 10:00:40 CST (02:00:40 UTC). Loggers and gauges are
played over real TCP with the codecs; readings are read back from real Mosquitto.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone

import pytest

from edge.agent import EdgeAgent
from edge.protocols import hj212

from .conftest import AIR, CST, HYDRO, Hj212Device, Sl651Device, make_config

pytestmark = pytest.mark.services
NOW = datetime(2026, 3, 2, 10, 0, 40, tzinfo=CST)
MN1, MN2 = "MN0000000000000000000001", "MN0000000000000000000002"


@pytest.fixture
def agent(tmp_path, mosquitto):
    a = EdgeAgent(make_config(tmp_path), mqtt_url=mosquitto.url, clock=NOW.timestamp).start()
    yield a
    a.stop()


def _device(agent, mn=MN1) -> Hj212Device:
    d = Hj212Device(agent.ports["hj212"], mn)
    d.connect()
    return d


def _drain(dev: Hj212Device, want, timeout: float = 5.0) -> list:
    """Read until ``want(replies)`` holds (or the timeout): the replies so far."""
    deadline = time.monotonic() + timeout
    while not want(dev.replies) and time.monotonic() < deadline:
        dev.read(0.2)
    return dev.replies


def _cns(replies) -> list[str]:
    return [r.cn for r in replies if isinstance(r, hj212.Packet)]


def test_impossible_data_time_goes_on_the_hour_and_the_clock_is_set(agent, subscriber,
                                                                    caplog):
    assert subscriber.subscribed.wait(10)
    dev = _device(agent)
    caplog.set_level(logging.WARNING, logger="edge.agent")
    # an hourly value stamped 2099 (the logger's clock is wrong) arriving at 10:00:40 CST is
    # the hour that ended at 10:00, i.e. DataTime 09:00 CST = 01:00 UTC
    reply = dev.upload(datetime(2099, 1, 1, 0, 0, tzinfo=CST), {"a34004": 42}, cn="2061",
                       qn=datetime(2099, 1, 1, 0, 0, 30, tzinfo=CST))
    assert reply is not None and reply.cn == "9014"
    replies = _drain(dev, lambda r: "1012" in _cns(r))
    (cmd,) = [r for r in replies if r.cn == "1012"]
    assert cmd.cp["SystemTime"] == "20260302100040" and cmd.mn == MN1   # the agent's time
    assert subscriber.wait(lambda: subscriber.readings(AIR[0]), 15)
    (r,) = subscriber.readings(AIR[0])
    assert (r.ts, r.period, r.values["pm25"]) == (
        datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc), "PT1H", 42.0)
    assert any("sent CN 1012 SystemTime=20260302100040" in m for m in caplog.messages)
    assert agent.stats["stations"][AIR[0]]["commands.1012"] == 1
    # the logger confirms: 9011 QnRtn=1 then 9012 ExeRtn=1, matched to the 1012 by its QN
    for answer in (hj212.build_request_reply(cmd), hj212.build_exec_reply(cmd)):
        dev.send_raw(hj212.encode_packet(answer))
    assert _wait(lambda: agent.stats["stations"][AIR[0]].get("commands.1012.exertn_1") == 1)
    dev.close()


def test_minute_data_before_2000_goes_on_the_minute_grid(agent, subscriber):
    assert subscriber.subscribed.wait(10)
    dev = _device(agent)
    # device MN1 sends 2051 as PT1M: arriving 10:00:40 the last whole minute is 09:59 CST
    dev.upload(datetime(1999, 12, 31, 23, 59, tzinfo=CST), {"a34004": 7}, cn="2051",
               qn=datetime(1999, 12, 31, 23, 59, 50, tzinfo=CST))
    assert subscriber.wait(lambda: subscriber.readings(AIR[0]), 15)
    (r,) = subscriber.readings(AIR[0])
    assert (r.ts, r.period) == (datetime(2026, 3, 2, 1, 59, tzinfo=timezone.utc), "PT1M")
    dev.close()


@pytest.mark.parametrize("ahead_s, set_after", [
    # real-time data is sent at once: its QN is the logger's clock. 600 s ahead > 300 s
    # tolerance: the median of the first two samples (600, 600) is 600 -> 1012 after the 2nd
    pytest.param(600, 2, id="ten-minutes-ahead"),
    pytest.param(-900, 2, id="fifteen-minutes-behind"),
    # 100 s off is within the 300 s tolerance: never set
    pytest.param(100, None, id="within-tolerance"),
])
def test_logger_clock_off_by_more_than_the_tolerance_is_set(agent, ahead_s, set_after):
    dev = _device(agent)
    sent_at = None
    for i in range(3):
        when = NOW + timedelta(seconds=ahead_s + i)
        dev.upload(when.replace(microsecond=0), {"a34004": 10 + i}, cn="2011", qn=when)
        dev.read(0.3)
        if sent_at is None and "1012" in _cns(dev.replies):
            sent_at = i + 1
    assert sent_at == set_after
    assert _cns(dev.replies).count("1012") == (0 if set_after is None else 1)  # once per hour
    dev.close()


def test_heartbeat_requests_and_time_calibration(agent):
    dev = _device(agent)
    # 9015 heartbeat, HJ 212-2025 (Flag version 2): Flag 9 = 2 << 2 | 1 asks for an answer,
    # a notification answer 9013 with the heartbeat's QN; Flag 8 asks for none
    for flag, qn in ((9, "20260302100001000"), (8, "20260302100002000")):
        dev.send_raw(hj212.encode_packet(hj212.Packet("22", "9015", MN1, "123456", qn, flag)))
    replies = _drain(dev, lambda r: len(r) >= 1, 3)
    dev.read(0.5)
    assert [(r.cn, r.qn) for r in dev.replies] == [("9013", "20260302100001000")]
    dev.replies.clear()
    # 1011 (get the system time): 9011 QnRtn=1, the time (1011 upload), 9012 ExeRtn=1
    get = hj212.build_command("1011", MN1, qn="20260302100003000")
    dev.send_raw(hj212.encode_packet(get))
    replies = _drain(dev, lambda r: "9012" in _cns(r))
    assert [(r.cn, r.cp.get("QnRtn") or r.cp.get("SystemTime") or r.cp.get("ExeRtn"))
            for r in replies] == [("9011", "1"), ("1011", "20260302100040"), ("9012", "1")]
    dev.replies.clear()
    # a history request reaching the agent (it keeps no history to serve): refused, QnRtn=2
    hist = hj212.build_history_request("2061", MN1, NOW - timedelta(hours=3), NOW,
                                       qn="20260302100004000")
    dev.send_raw(hj212.encode_packet(hist))
    replies = _drain(dev, lambda r: len(r) >= 1)
    assert [(r.cn, r.qn, r.cp.get("QnRtn")) for r in replies] == [
        ("9011", "20260302100004000", "2")]
    dev.replies.clear()
    # 1013: the logger asks for a time calibration -> 1012 with the agent's time
    dev.send_raw(hj212.encode_packet(hj212.build_command("1013", MN1, qn="20260302100005000")))
    replies = _drain(dev, lambda r: "1012" in _cns(r))
    assert [(r.cn, r.cp.get("SystemTime")) for r in replies] == [("1012", "20260302100040")]
    dev.close()


def test_gauge_report_with_an_impossible_time_goes_on_the_hour(agent, subscriber):
    assert subscriber.subscribed.wait(10)
    gauge = Sl651Device(agent.ports["sl651"])
    # observed 2099: arriving 10:00:40 CST the report goes to the top of the hour that began,
    # 10:00 CST = 02:00 UTC (lintong reports hourly)
    answer = gauge.report(datetime(2099, 1, 1, 0, 0, tzinfo=CST), {"stage": 350.5},
                          sent=datetime(2099, 1, 1, 0, 0, 5, tzinfo=CST))
    assert answer is not None
    assert subscriber.wait(lambda: subscriber.readings(HYDRO), 15)
    (r,) = subscriber.readings(HYDRO)
    assert (r.ts, r.values["stage"]) == (datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc),
                                         350.5)
    gauge.close()


def _wait(cond, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.05)
    return cond()
