"""HJ 212 platform commands (issue 16 item 8): decoding them without DataTime, and the encoders
the edge agent uses to command a logger and to answer it.

Frames are written out by hand after HJ 212-2017 (header order QN;ST;CN;PW;MN;Flag;CP=&&..&&,
the history request's ``BeginTime=..,EndTime=..`` item, 9011/9012/9013/9014 replies with ST=91
and the request's QN); CRCs come from the test's own bit loop (``hand_crc``), lengths are counted
here, never taken from the code under test.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from edge.protocols.hj212 import (
    CST,
    DecodeError,
    ExeRtn,
    QnRtn,
    StreamDecoder,
    build_command,
    build_data_reply,
    build_exec_reply,
    build_heartbeat_reply,
    build_history_request,
    build_notify_reply,
    build_realtime_request,
    build_request_reply,
    build_set_time,
    build_status_request,
    decode_packet,
    encode_packet,
    to_readings,
)

from .test_hj212_vectors import hand_crc

MN = "010000A8900016F000169DC0"  # the standard's example MN (24 characters)
QN = "20160801085857223"


def framed(segment: str) -> bytes:
    data = segment.encode()
    return b"##%04d%s%04X\r\n" % (len(data), data, hand_crc(data))


def decoded(segment: str):
    return decode_packet(framed(segment))


# --- decoding commands: DataTime only on uploads ------------------------------------------

HISTORY = {  # CN -> the standard's history request (platform -> logger), no DataTime
    cn: f"QN={QN};ST=32;CN={cn};PW=100000;MN={MN};Flag=5;"
        "CP=&&BeginTime=20160801000000,EndTime=20160801235959&&"
    for cn in ("2051", "2061", "2031")
}


@pytest.mark.parametrize("cn", sorted(HISTORY))
def test_history_requests_decode_with_their_range(cn: str) -> None:
    packet = decoded(HISTORY[cn])
    assert packet.cn == cn and packet.data_time is None and not packet.is_upload
    assert packet.begin_time == datetime(2016, 8, 1, 0, 0, 0, tzinfo=CST)
    assert packet.end_time == datetime(2016, 8, 1, 23, 59, 59, tzinfo=CST)
    assert packet.ack_requested  # Flag=5: version 1 (2017) + bit0, the logger answers 9011
    assert to_readings(packet) == []  # a request carries no data


def test_history_request_with_semicolon_between_begin_and_end_also_accepted() -> None:
    packet = decoded(HISTORY["2061"].replace(",EndTime", ";EndTime"))
    assert packet.end_time == datetime(2016, 8, 1, 23, 59, 59, tzinfo=CST)


@pytest.mark.parametrize(
    ("segment", "field"),
    [
        pytest.param(HISTORY["2061"].replace(",EndTime=20160801235959", ""), "EndTime",
                     id="no-end"),
        pytest.param(HISTORY["2061"].replace("BeginTime=20160801000000,", ""), "BeginTime",
                     id="no-begin"),
        pytest.param(HISTORY["2061"].replace("BeginTime=20160801000000",
                                             "BeginTime=20160802000000"), "BeginTime",
                     id="begin-after-end"),
        pytest.param(HISTORY["2061"].replace("EndTime=20160801235959", "EndTime=20161301000000"),
                     "EndTime", id="end-month-13"),
        pytest.param(HISTORY["2061"].replace("CP=&&BeginTime=20160801000000,"
                                             "EndTime=20160801235959&&",
                                             "CP=&&a34004-Avg=14&&"), "DataTime",
                     id="upload-without-datatime"),
    ],
)
def test_bad_history_requests_say_which_field(segment: str, field: str) -> None:
    with pytest.raises(DecodeError) as info:
        decoded(segment)
    assert info.value.reason == "bad_field" and info.value.field == field


@pytest.mark.parametrize("cn", ["2011", "2021"])
def test_start_upload_commands_with_empty_cp(cn: str) -> None:
    packet = decoded(f"QN={QN};ST=32;CN={cn};PW=100000;MN={MN};Flag=5;CP=&&&&")
    assert packet.cn == cn and packet.cp == {} and packet.factors == {}
    assert packet.data_time is None and not packet.is_upload


def test_uploads_still_need_datatime_and_are_uploads() -> None:
    packet = decoded(f"QN={QN};ST=22;CN=2061;PW=100000;MN={MN};Flag=4;"
                     "CP=&&DataTime=20160801080000;a34004-Avg=14,a34004-Flag=N&&")
    assert packet.is_upload and packet.data_time == datetime(2016, 8, 1, 8, tzinfo=CST)


def test_stream_decoder_passes_commands_through() -> None:
    decoder = StreamDecoder()
    out = decoder.feed(framed(HISTORY["2061"]) + framed(
        f"QN={QN};ST=32;CN=2011;PW=100000;MN={MN};Flag=5;CP=&&&&"))
    assert [p.cn for p in out] == ["2061", "2011"] and not decoder.stats.errors


# --- encoders for the platform's commands -------------------------------------------------

BEGIN = datetime(2016, 8, 1, 0, 0, 0, tzinfo=CST)
END = datetime(2016, 8, 1, 23, 59, 59, tzinfo=CST)


@pytest.mark.parametrize("cn", ["2061", "2051", "2031"])
def test_history_request_encodes_as_the_standard_writes_it(cn: str) -> None:
    packet = build_history_request(cn, MN, BEGIN, END, qn=QN, st="32", pw="100000")
    assert encode_packet(packet) == framed(HISTORY[cn])


def test_history_request_converts_utc_to_china_time() -> None:
    # 2016-07-31 16:00 UTC is 2016-08-01 00:00 in UTC+8; 15:59:59 UTC is 23:59:59 UTC+8.
    begin = datetime(2016, 7, 31, 16, 0, tzinfo=timezone.utc)
    end = datetime(2016, 8, 1, 15, 59, 59, tzinfo=timezone.utc)
    packet = build_history_request("2061", MN, begin, end, qn=QN, st="32", pw="100000")
    assert encode_packet(packet) == framed(HISTORY["2061"])


def test_history_request_qn_from_a_datetime() -> None:
    # QN is yyyyMMddHHmmssSSS in UTC+8: 00:58:57.223 UTC -> 08:58:57.223 +08:00.
    sent = datetime(2016, 8, 1, 0, 58, 57, 223000, tzinfo=timezone.utc)
    packet = build_history_request("2061", MN, BEGIN, END, qn=sent, st="32", pw="100000")
    assert packet.qn == QN


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: build_history_request("2011", MN, BEGIN, END, qn=QN), "not a history"),
        (lambda: build_history_request("2061", MN, END, BEGIN, qn=QN), "after EndTime"),
    ],
)
def test_history_request_refuses(call, match) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_realtime_and_status_requests_have_empty_cp() -> None:
    assert encode_packet(build_realtime_request(MN, qn=QN, st="32", pw="100000")) == framed(
        f"QN={QN};ST=32;CN=2011;PW=100000;MN={MN};Flag=5;CP=&&&&")
    assert encode_packet(build_status_request(MN, qn=QN, st="32", pw="100000")) == framed(
        f"QN={QN};ST=32;CN=2021;PW=100000;MN={MN};Flag=5;CP=&&&&")


def test_set_time_1012() -> None:
    # 2016-08-01 00:58:57 UTC -> SystemTime 20160801085857 (UTC+8)
    when = datetime(2016, 8, 1, 0, 58, 57, tzinfo=timezone.utc)
    raw = encode_packet(build_set_time(MN, when, qn=QN, st="32", pw="100000"))
    assert raw == framed(f"QN={QN};ST=32;CN=1012;PW=100000;MN={MN};Flag=5;"
                         "CP=&&SystemTime=20160801085857&&")
    assert decode_packet(raw).system_time == datetime(2016, 8, 1, 8, 58, 57, tzinfo=CST)
    one = encode_packet(build_set_time(MN, when, qn=QN, st="32", pw="100000", pol_id="w01018"))
    assert one == framed(f"QN={QN};ST=32;CN=1012;PW=100000;MN={MN};Flag=5;"
                         "CP=&&PolId=w01018;SystemTime=20160801085857&&")


def test_commands_to_a_2005_logger_have_no_flag_and_2025_ones_flag_9() -> None:
    assert encode_packet(build_command("2011", MN, qn=QN, version=None)) == framed(
        f"QN={QN};ST=22;CN=2011;PW=123456;MN={MN};CP=&&&&")
    # version 2 in bits 2-7 = 8, plus bit0 (answer requested) = 9
    assert build_command("2011", MN, qn=QN, version=2).flag == 9


# --- replies the standard defines ----------------------------------------------------------

def test_request_flow_replies_9011_then_9012() -> None:
    request = decoded(HISTORY["2061"])
    # the logger answers with ST=91, the request's QN, Flag = version bits only (4)
    assert encode_packet(build_request_reply(request, QnRtn.READY)) == framed(
        f"QN={QN};ST=91;CN=9011;PW=100000;MN={MN};Flag=4;CP=&&QnRtn=1&&")
    assert encode_packet(build_exec_reply(request, ExeRtn.NO_DATA)) == framed(
        f"QN={QN};ST=91;CN=9012;PW=100000;MN={MN};Flag=4;CP=&&ExeRtn=100&&")


def test_data_answer_9014_to_an_upload() -> None:
    upload = decoded(f"QN={QN};ST=22;CN=2061;PW=100000;MN={MN};Flag=5;"
                     "CP=&&DataTime=20160801080000;a34004-Avg=14&&")
    assert encode_packet(build_data_reply(upload)) == framed(
        f"QN={QN};ST=91;CN=9014;PW=100000;MN={MN};Flag=4;CP=&&&&")


def test_heartbeat_9015_answered_with_9013_only_when_asked() -> None:
    # HJ 212-2025 Flag: version 2 -> 8; bit0 set -> 9 asks for an answer.
    asked = decoded(f"QN={QN};ST=22;CN=9015;PW=123456;MN={MN};Flag=9;CP=&&&&")
    reply = build_heartbeat_reply(asked)
    assert reply is not None and encode_packet(reply) == framed(
        f"QN={QN};ST=91;CN=9013;PW=123456;MN={MN};Flag=8;CP=&&&&")
    silent = decoded(f"QN={QN};ST=22;CN=9015;PW=123456;MN={MN};Flag=8;CP=&&&&")
    assert build_heartbeat_reply(silent) is None
    with pytest.raises(ValueError, match="not a heartbeat"):
        build_heartbeat_reply(decoded(HISTORY["2061"]))


def test_notify_reply_9013() -> None:
    packet = decoded(f"QN={QN};ST=32;CN=2081;PW=100000;MN={MN};Flag=5;"
                     "CP=&&DataTime=20160801085857;RestartTime=20160801085000&&")
    assert encode_packet(build_notify_reply(packet)) == framed(
        f"QN={QN};ST=91;CN=9013;PW=100000;MN={MN};Flag=4;CP=&&&&")


def test_round_trip_of_every_command_builder() -> None:
    t = datetime(2024, 1, 5, 10, tzinfo=CST)
    for packet in (build_history_request("2051", "M1", t, t + timedelta(hours=6), qn=t),
                   build_realtime_request("M1", qn=t), build_status_request("M1", qn=t),
                   build_set_time("M1", t, qn=t)):
        assert decode_packet(encode_packet(packet)) == packet
