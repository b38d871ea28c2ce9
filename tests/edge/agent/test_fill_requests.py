"""Fill requests at the agent: what it sends the device for a request, worked by hand, and the
request parser on arbitrary payloads (hypothesis, fixed budget)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from edge.agent._fill import (FillRequest, Seen, hj212_cn, hj212_history_request,
                              sl651_period_query)
from edge.protocols import hj212

CST = timezone(timedelta(hours=8))
REQ = {"v": 1, "id": "1462A/2026-12-11T10:00:00+08:00/2026-12-11T15:00:00+08:00",
       "station": "1462A", "period": "PT1H", "start": "2026-12-11T10:00:00+08:00",
       "end": "2026-12-11T15:00:00+08:00", "attempt": 2, "sent": "2026-12-11T18:30:00+08:00"}


def test_hj212_history_request_for_a_fill_request():
    req = FillRequest.model_validate_json(json.dumps(REQ))
    assert (req.start, req.end, req.period_s) == (
        datetime(2026, 12, 11, 2, tzinfo=timezone.utc),
        datetime(2026, 12, 11, 7, tzinfo=timezone.utc), 3600)
    assert hj212_cn("PT1H", "PT10M") == "2061" and hj212_cn("PT10M", "PT10M") == "2051"
    assert hj212_cn("P1D", "PT1M") == "2031" and hj212_cn("PT5M", "PT1M") is None
    last = hj212.Packet("22", "2061", "1462A", "123456", "20261211180005123",
                        hj212.make_flag(ack=True))
    now = datetime(2026, 12, 11, 18, 30, 0, 250000, tzinfo=CST)
    frame = hj212.encode_packet(hj212_history_request(last, "2061", req.start, req.end, now,
                                                      "654321"))
    # the times go out as local time (UTC+8): 02:00Z is 10:00 CST, 07:00Z is 15:00 CST
    # BeginTime and EndTime are one field group, comma-separated, as in the standard
    assert b"QN=20261211183000250;ST=22;CN=2061;PW=654321;MN=1462A;Flag=5;" \
           b"CP=&&BeginTime=20261211100000,EndTime=20261211150000&&" in frame


def test_sl651_period_query_for_a_fill_request():
    start = datetime(2026, 12, 11, 3, tzinfo=timezone.utc)       # 11:00 CST
    end = datetime(2026, 12, 11, 8, tzinfo=timezone.utc)         # 16:00 CST
    frame = sl651_period_query("0041102500", centre=1, password=0x1234, start=start, end=end,
                               step_s=3600, element="stage",
                               now=datetime(2026, 12, 11, 18, 0, tzinfo=CST))
    # 7E7E, station 0041102500 then centre 01 (down-link), password 1234, function 38,
    # 8 (down) + length 0x17 = 23 bytes, ENQ-framed body: serial 0000, send time
    # 261211180000, start 26121111, end 26121116, time step 04 18 000100, element 39 23
    assert frame.hex().upper().startswith(
        "7E7E0041102500011234388017" "02" "0000" "261211180000" "26121111" "26121116"
        "0418000100" "3923" "05")


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.one_of(st.binary(max_size=200),
                 st.dictionaries(st.sampled_from(sorted(REQ) + ["x"]),
                                 st.one_of(st.none(), st.integers(), st.text(max_size=30)),
                                 max_size=9).map(lambda d: json.dumps({**REQ, **d}).encode())))
def test_any_payload_is_a_request_or_a_value_error(payload):
    try:
        req = FillRequest.model_validate_json(payload)
    except ValidationError:
        return
    try:
        assert req.period_s >= 0
    except ValueError:
        pass
    assert req.start.tzinfo is not None and req.end.tzinfo is not None


def test_a_request_is_done_once_per_attempt():
    seen = Seen(size=2)
    assert seen.first(("a", 1)) and not seen.first(("a", 1)) and seen.first(("a", 2))
    assert seen.first(("b", 1))          # ("a", 1) forgotten: the bound is 2
    assert seen.first(("a", 1))
