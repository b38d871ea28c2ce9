"""HJ 212 frame decoding errors and quirks, builders, replies, reassembly and readings."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from edge.protocols.hj212 import (
    CST,
    DEFAULT_FACTOR_MAP,
    DecodeError,
    ExeRtn,
    Factor,
    FactorMap,
    Packet,
    QnRtn,
    Reassembler,
    build_data_reply,
    build_exec_reply,
    build_request_reply,
    build_upload,
    decode_packet,
    encode_packet,
    encode_upload,
    qn_rtn_for,
    swap_bytes,
    to_readings,
)

from .test_hj212_vectors import hand_crc

DT = datetime(2024, 1, 5, 10, 0, tzinfo=CST)
HEADER = "QN=20240105100000000;ST=22;CN=2011;PW=123456;MN=610100000001;Flag=5;CP=&&"


def frame(segment: str, *, crc: str | None = None, length: int | None = None) -> bytes:
    """Build a frame by hand (CRC from the test's own bit loop)."""
    data = segment.encode()
    crc = f"{hand_crc(data):04X}" if crc is None else crc
    return b"##%04d%s%s\r\n" % (len(data) if length is None else length, data, crc.encode())


def rtd(body: str) -> bytes:
    return frame(HEADER + "DataTime=20240105100000;" + body + "&&")


def reason_of(raw: bytes | str, **options) -> str:
    with pytest.raises(DecodeError) as info:
        decode_packet(raw, **options)
    return info.value.reason


# --- decode: rejected frames, one reason each -------------------------------------------------

GOOD = rtd("a34004-Rtd=75,a34004-Flag=N")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param(GOOD[1:], "bad_header", id="no-##"),
        pytest.param(b"##01a1" + GOOD[6:], "bad_length", id="length-not-digits"),
        pytest.param(GOOD[:2] + b"%04d" % (int(GOOD[2:6]) + 1) + GOOD[6:], "bad_length",
                     id="length-too-big-terminated"),
        pytest.param(GOOD[:2] + b"%04d" % (int(GOOD[2:6]) - 1) + GOOD[6:], "bad_length",
                     id="length-too-small"),
        pytest.param(b"##5000" + GOOD[6:], "oversize", id="oversize"),
        pytest.param(GOOD[:60], "truncated", id="cut-in-segment"),
        pytest.param(GOOD[:-4], "truncated", id="cut-in-crc"),
        pytest.param(GOOD[:-3] + b"\r\n", "bad_crc", id="three-char-crc"),
        pytest.param(GOOD[:-6] + b"1C8G\r\n", "bad_crc", id="crc-not-hex"),
        pytest.param(GOOD[:-6] + b"0x1C\r\n", "bad_crc", id="crc-0x-prefix"),
        pytest.param(rtd("a34004-Rtd=75,a34004-Flag=N")[:-6] + b"0000\r\n", "bad_crc",
                     id="wrong-crc"),
        pytest.param(rtd("a34004-Rtd=abc"), "bad_field", id="value-not-number"),
        pytest.param(rtd("a34004-Rtd=nan"), "bad_field", id="value-nan"),
        pytest.param(rtd("a34004-Rtd"), "bad_field", id="item-without-equals"),
        pytest.param(rtd("a34004-=5"), "bad_field", id="empty-field-name"),
        pytest.param(frame(HEADER.replace("CN=2011", "CN=20x1") + "&&"), "bad_field",
                     id="cn-not-digits"),
        pytest.param(frame(HEADER.replace("MN=610100000001;", "") + "&&"), "bad_field",
                     id="no-mn"),
        pytest.param(frame(HEADER.replace("Flag=5", "Flag=x") + "&&"), "bad_field",
                     id="flag-not-int"),
        pytest.param(frame(HEADER.replace("QN=20240105100000000", "QN=2024-01") + "&&"),
                     "bad_field", id="qn-not-digits"),
        pytest.param(frame(HEADER.replace("Flag=5", "Flag=7;PNUM=2;PNO=3") + "&&"),
                     "bad_field", id="pno-above-pnum"),
        pytest.param(frame(HEADER + "a34004-Rtd=75&&"), "bad_field", id="upload-without-datatime"),
        pytest.param(frame(HEADER + "DataTime=20241305100000&&"), "bad_field",
                     id="datatime-month-13"),
        pytest.param(frame(HEADER.replace(";CP=&&", "") + "&&"), "bad_field", id="no-cp"),
        pytest.param(frame(HEADER.replace("CN=2011", "CN=4711") + "&&"), "unknown_cn",
                     id="unknown-cn"),
    ],
)
def test_decode_rejects_with_reason(raw: bytes, reason: str) -> None:
    assert reason_of(raw) == reason


def test_bad_encoding_reason() -> None:
    data = (HEADER + "DataTime=20240105100000;a34004-Rtd=1&&").encode().replace(b"Rtd=1", b"Rtd\xff")
    assert reason_of(b"##%04d%s%04X\r\n" % (len(data), data, hand_crc(data))) == "bad_encoding"


def test_errors_carry_data() -> None:
    raw = frame(HEADER.replace("CN=2011", "CN=4711") + "&&")
    with pytest.raises(DecodeError) as info:
        decode_packet(raw)
    error = info.value
    assert error.raw == raw and error.field == "CN" and error.packet.mn == "610100000001"
    assert qn_rtn_for(error) == QnRtn.BAD_CN
    reply = build_request_reply(error.packet, qn_rtn_for(error))
    assert reply.cp == {"QnRtn": "8"} and reply.qn == "20240105100000000"


def test_bad_crc_error_carries_packet_for_qnrtn_9() -> None:
    with pytest.raises(DecodeError) as info:
        decode_packet(GOOD[:-6] + b"0000\r\n")
    assert info.value.packet is not None and qn_rtn_for(info.value) == QnRtn.CRC_ERROR


def test_max_length_is_configurable() -> None:
    assert reason_of(GOOD, max_length=50) == "oversize"
    assert decode_packet(GOOD, max_length=len(GOOD)).cn == "2011"


# --- decode: tolerated quirks --------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(GOOD.replace(GOOD[-6:-2], GOOD[-6:-2].lower()), id="lowercase-crc"),
        pytest.param(GOOD[:-2], id="no-crlf"),
        pytest.param(rtd("a34004-Rtd=75,a34004-Flag=N;"), id="trailing-semicolon"),
        pytest.param(rtd("a34004-Rtd=75,a34004-Flag=N,"), id="trailing-comma"),
        pytest.param(frame("MN=610100000001;CN=2011;ST=22;Flag=5;PW=123456;CP=&&"
                           "DataTime=20240105100000;a34004-Rtd=75,a34004-Flag=N&&"),
                     id="header-out-of-order-no-qn"),
        pytest.param(frame("QN=20240105100000000;ST=22;CN=9015;PW=1;MN=A1;Flag=9;CP=&&&&"),
                     id="hj212-2025-heartbeat"),
    ],
)
def test_decode_tolerates(raw: bytes) -> None:
    packet = decode_packet(raw)
    assert packet.mn in ("610100000001", "A1")


def test_empty_value_means_missing() -> None:
    packet = decode_packet(rtd("a34004-Rtd=,a34004-Flag=D"))
    assert packet.factors["a34004"].values == {} and packet.factors["a34004"].flag == "D"
    (reading,) = to_readings(packet)
    assert reading.values == {} and reading.flags == {"pm25": "D"}


def test_unknown_header_keys_kept() -> None:
    packet = decode_packet(frame(HEADER.replace("Flag=5", "Flag=5;XX=1") + "DataTime=20240105100000&&"))
    assert packet.header_extra == {"XX": "1"}
    assert b";XX=1;CP=" in encode_packet(packet)


def test_known_cns_configurable() -> None:
    raw = frame(HEADER.replace("CN=2011", "CN=4711") + "&&")
    assert decode_packet(raw, known_cns={"4711"}).cn == "4711"


# --- byte-swapped CRC tolerance -----------------------------------------------------------------


def swapped(raw: bytes) -> bytes:
    crc = swap_bytes(int(raw[-6:-2], 16))
    return raw[:-6] + b"%04X\r\n" % crc


def test_swapped_crc_rejected_unless_device_tolerated() -> None:
    raw = swapped(GOOD)
    with pytest.raises(DecodeError) as info:
        decode_packet(raw)
    assert info.value.reason == "bad_crc" and "byte-swapped" in info.value.detail
    assert reason_of(raw, swapped_crc_devices={"OTHER"}) == "bad_crc"
    packet = decode_packet(raw, swapped_crc_devices={"610100000001"})
    assert packet.crc_swapped is True


def test_correct_crc_not_marked_swapped_for_tolerated_device() -> None:
    assert decode_packet(GOOD, swapped_crc_devices={"610100000001"}).crc_swapped is False


def test_encoder_can_play_a_swapping_device() -> None:
    (packet,) = build_upload("2011", "SWAP1", DT, {"a34004": 1})
    packet.crc_swapped = True
    raw = encode_packet(packet)
    assert reason_of(raw) == "bad_crc"
    assert decode_packet(raw, swapped_crc_devices={"SWAP1"}).crc_swapped


# --- builders -------------------------------------------------------------------------------------


def test_build_upload_realtime_with_ack() -> None:
    (packet,) = build_upload("2011", "610100000001", DT,
                             {"a34004": (75.6, "N"), "a01001": -3.5, "a21005": "0.427"}, ack=True)
    raw = encode_packet(packet)
    assert raw.startswith(b"##") and raw.endswith(b"\r\n")
    assert b"QN=20240105100000000;ST=22;CN=2011;PW=123456;MN=610100000001;Flag=5;" in raw
    assert b"a34004-Rtd=75.6,a34004-Flag=N;a01001-Rtd=-3.5;a21005-Rtd=0.427&&" in raw
    segment = raw[6:-6]
    assert int(raw[2:6]) == len(segment) and int(raw[-6:-2], 16) == hand_crc(segment)
    assert decode_packet(raw).ack_requested


def test_build_upload_interval_fields() -> None:
    (packet,) = build_upload("2061", "M1", DT, {"a34004": {"Avg": 30, "Min": 10, "Max": 50.5,
                                                           "Cou": 1, "Flag": "T"}})
    raw = encode_packet(packet)
    assert b"a34004-Avg=30,a34004-Min=10,a34004-Max=50.5,a34004-Cou=1,a34004-Flag=T" in raw
    (reading,) = to_readings(decode_packet(raw))
    assert reading.values == {"pm25": 30.0} and reading.flags == {"pm25": "T"}
    assert reading.period == "PT1H"


def test_build_upload_converts_aware_time_to_utc8() -> None:
    (packet,) = build_upload("2031", "M1", datetime(2024, 1, 4, 16, tzinfo=timezone.utc), {"a34004": 1})
    raw = encode_packet(packet)
    assert b"DataTime=20240105000000" in raw and b"QN=20240105000000000" in raw


def test_build_upload_legacy_without_flag() -> None:
    raw = encode_upload("2011", "M1", DT, {"a34004": 1}, version=None)
    assert b"Flag" not in raw and decode_packet(raw).flag is None


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "abc"])
def test_build_upload_rejects_bad_values(bad) -> None:
    with pytest.raises(ValueError):
        build_upload("2011", "M1", DT, {"a34004": bad})


def test_build_upload_rejects_separators_in_text() -> None:
    with pytest.raises(ValueError):
        encode_packet(build_upload("2011", "M;1", DT, {"a34004": 1})[0])


def test_build_upload_splits_long_cp_and_reassembles() -> None:
    factors = {f"a{i:05d}": (i * 1.25, "N") for i in range(150)}
    parts = build_upload("2051", "M1", DT, factors, ack=True)
    assert len(parts) > 2
    raws = [encode_packet(p) for p in parts]
    assert all(len(r) - 12 <= 1024 for r in raws)
    decoded = [decode_packet(r) for r in raws]
    assert [(p.pnum, p.pno) for p in decoded] == [(len(parts), n) for n in range(1, len(parts) + 1)]
    assert all(p.flag == 7 for p in decoded) and len({p.qn for p in decoded}) == len(parts)
    reassembler = Reassembler()
    results = [reassembler.add(p) for p in reversed(decoded)]
    assert results[:-1] == [None] * (len(parts) - 1)
    merged = results[-1]
    assert merged.factors.keys() == factors.keys() and merged.flag == 5
    assert merged.factors["a00149"].avg == 149 * 1.25


def test_split_qns_roll_over_milliseconds() -> None:
    parts = build_upload("2051", "M1", DT, {f"a{i:05d}": 1 for i in range(200)},
                         qn="20240105100000999")
    assert [p.qn for p in parts[:2]] == ["20240105100000999", "20240105100001000"]


# --- replies ----------------------------------------------------------------------------------------


def test_replies_echo_qn_and_use_st_91() -> None:
    upload = decode_packet(GOOD)
    data_reply = encode_packet(build_data_reply(upload))
    assert data_reply == frame("QN=20240105100000000;ST=91;CN=9014;PW=123456;"
                               "MN=610100000001;Flag=4;CP=&&&&")
    assert build_request_reply(upload, QnRtn.BAD_PW).cp == {"QnRtn": "3"}
    assert build_exec_reply(upload, ExeRtn.NO_DATA).cp == {"ExeRtn": "100"}
    assert build_exec_reply(upload).cn == "9012" and build_request_reply(upload).cn == "9011"


def test_reply_codes() -> None:
    assert [int(c) for c in QnRtn] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 100]
    assert ExeRtn.SUCCESS == 1 and ExeRtn.NO_DATA == 100


def test_reply_to_2025_packet_keeps_version() -> None:
    upload = decode_packet(frame("QN=20240105100000000;ST=22;CN=9015;PW=1;MN=A1;Flag=9;CP=&&&&"))
    assert build_data_reply(upload).flag == 8


# --- reassembler --------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _parts(mn: str, minute: int = 0) -> list[Packet]:
    factors = {f"a{i:05d}": i for i in range(200)}
    return build_upload("2051", mn, DT + timedelta(minutes=minute), factors)


def test_reassembler_passes_unsplit_packets() -> None:
    packet = decode_packet(GOOD)
    assert Reassembler().add(packet) is packet


def test_reassembler_expires_with_injected_clock() -> None:
    clock = FakeClock()
    reassembler = Reassembler(timeout=60, clock=clock)
    first, *rest = _parts("M1")
    assert reassembler.add(first) is None
    clock.now = 61
    assert reassembler.expire() == [[first]] and len(reassembler) == 0
    assert reassembler.stats.expired == 1
    assert all(reassembler.add(p) is None for p in rest)


def test_reassembler_bounds_pending_groups() -> None:
    reassembler = Reassembler(max_pending=3, clock=FakeClock())
    for minute in range(5):
        assert reassembler.add(_parts("M1", minute)[0]) is None
    assert len(reassembler) == 3 and reassembler.stats.evicted == 2


def test_reassembler_keys_by_mn_cn_datatime_and_counts_duplicates() -> None:
    reassembler = Reassembler(clock=FakeClock())
    a, b = _parts("A"), _parts("B")
    assert reassembler.add(a[0]) is None and reassembler.add(b[0]) is None
    assert reassembler.add(a[0]) is None and reassembler.stats.duplicates == 1
    merged = [reassembler.add(p) for p in a[1:]][-1]
    assert merged.mn == "A" and len(merged.factors) == 200 and len(reassembler) == 1


# --- readings and factor maps -----------------------------------------------------------------------


def test_factor_map_scale_per_device() -> None:
    device_map = DEFAULT_FACTOR_MAP.updated({"a34004": ("pm25", 0.001)})
    packet = build_upload("2011", "M1", DT, {"a34004": "75600.000", "a99999": 1})[0]
    (reading,) = to_readings(decode_packet(encode_packet(packet)), device_map)
    assert reading.values == {"pm25": 75.6} and reading.unknown_factors == ["a99999"]
    assert DEFAULT_FACTOR_MAP.get("a34004") == ("pm25", 1.0)


def test_default_factor_map() -> None:
    assert {c: p for c, (p, s) in DEFAULT_FACTOR_MAP.entries.items()} == {
        "a34004": "pm25", "a34002": "pm10", "a21026": "so2", "a21004": "no2", "a05024": "o3",
        "a21005": "co", "a01001": "temp", "a01002": "rh", "a01006": "pressure",
        "a01007": "wind_speed", "a01008": "wind_dir"}


def test_factor_map_rejects_zero_scale() -> None:
    with pytest.raises(ValueError):
        FactorMap({"a34004": ("pm25", 0.0)})


@pytest.mark.parametrize(
    ("cn", "period"),
    [("2011", "PT0S"), ("2051", "PT1M"), ("2061", "PT1H"), ("2031", "P1D")],
)
def test_reading_periods(cn: str, period: str) -> None:
    (packet,) = build_upload(cn, "M1", DT, {"a34004": (5, "M")})
    (reading,) = to_readings(decode_packet(encode_packet(packet)))
    assert reading.period == period and reading.values == {"pm25": 5.0}
    assert reading.flags == {"pm25": "M"} and reading.ts == DT
    assert reading.ts.utcoffset() == timedelta(hours=8)
    assert reading.as_dict()["values"] == {"pm25": 5.0}


def test_minute_period_configurable_and_non_data_cn_gives_nothing() -> None:
    (packet,) = build_upload("2051", "M1", DT, {"a34004": 5})
    assert to_readings(packet, minute_period="PT5M")[0].period == "PT5M"
    assert to_readings(decode_packet(GOOD), DEFAULT_FACTOR_MAP)[0].period == "PT0S"
    assert to_readings(build_data_reply(packet)) == []


def test_equipment_status_2021() -> None:
    (packet,) = build_upload("2021", "M1", DT, {"SB1": 1, "SB2": 0})
    raw = encode_packet(packet)
    assert b"SB1-RS=1;SB2-RS=0" in raw
    decoded = decode_packet(raw)
    assert {c: f.values["RS"] for c, f in decoded.factors.items()} == {"SB1": 1.0, "SB2": 0.0}
    assert to_readings(decoded) == []


def test_factor_objects_accepted_by_builder() -> None:
    factor = Factor("a34004", {"Avg": 1.5}, "N", {"SampleTime": "20240105095500"})
    (packet,) = build_upload("2051", "M1", DT, {"a34004": factor})
    assert decode_packet(encode_packet(packet)).factors["a34004"] == factor
