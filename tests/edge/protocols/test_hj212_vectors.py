"""HJ 212 against the field-protocol vectors (tests/data) and the standard's own example.

CRC check values are computed here by an independent bit loop (or hard-coded), never by the
code under test.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from edge.protocols.hj212 import (
    CST,
    DecodeError,
    Reassembler,
    StreamDecoder,
    crc16,
    decode_packet,
    encode_packet,
    to_readings,
)

VECTORS_FILE = Path(__file__).parents[2] / "data/field-protocols/field-protocol-examples.json"
STANDARD_EXAMPLE = (
    "##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;"
    "Flag=5;CP=&&RtdInterval=30&&1C80\r\n"
)


def hand_crc(data: bytes) -> int:
    """The HJ 212 CRC as DOMAIN.md words it: (crc >> 8) ^ byte, then 8 shifts with 0xA001."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ byte
        for _ in range(8):
            carry = crc & 1
            crc >>= 1
            if carry:
                crc ^= 0xA001
    return crc


def _hj212_vectors() -> list[dict]:
    entries = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
    return [e for e in entries if e["protocol"] == "HJ212"]


VECTORS = _hj212_vectors()


def _vector(fragment: str) -> bytes:
    (match,) = [v for v in VECTORS if fragment in v["hex_or_text"]]
    return match["hex_or_text"].encode()


# --- CRC -----------------------------------------------------------------------------------


def test_hand_crc_matches_known_check_values() -> None:
    assert hand_crc(b"123456789") == 0x2F80
    assert hand_crc(STANDARD_EXAMPLE[6:-6].encode()) == 0x1C80


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b"123456789", 0x2F80, id="check-value"),
        pytest.param(STANDARD_EXAMPLE[6:-6].encode(), 0x1C80, id="standard-example"),
        pytest.param(b"", 0xFFFF, id="empty"),
    ],
)
def test_crc16_known_values(data: bytes, expected: int) -> None:
    assert crc16(data) == expected


def test_crc16_is_not_modbus() -> None:
    assert crc16(b"123456789") != 0x4B37


@pytest.mark.parametrize("data", [bytes(range(256)), b"\xff" * 50, "中文".encode(), b"&&;,="])
def test_crc16_matches_hand_loop(data: bytes) -> None:
    assert crc16(data) == hand_crc(data)


# --- the standard's example ----------------------------------------------------------------


def test_standard_example_fields() -> None:
    assert len(STANDARD_EXAMPLE[6:-6]) == 101
    packet = decode_packet(STANDARD_EXAMPLE)
    assert (packet.qn, packet.st, packet.cn, packet.pw) == ("20160801085857223", "32", "1062", "100000")
    assert packet.mn == "010000A8900016F000169DC0"
    assert packet.flag == 5 and packet.ack_requested and packet.version == 1
    assert packet.cp == {"RtdInterval": "30"}
    assert packet.factors == {} and packet.data_time is None and not packet.crc_swapped


def test_standard_example_reencodes_byte_identical() -> None:
    assert encode_packet(decode_packet(STANDARD_EXAMPLE)) == STANDARD_EXAMPLE.encode()


# --- every HJ212 vector ----------------------------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS, ids=[f"v{i}" for i in range(len(VECTORS))])
def test_vector_outcome_matches_crc_ok(vector: dict) -> None:
    frame = vector["hex_or_text"].encode()
    segment_end = frame.rindex(b"&&") + 2
    assert (hand_crc(frame[6:segment_end]) == int(frame[segment_end:-2], 16)) is vector["crc_ok"]
    if vector["crc_ok"]:
        packet = decode_packet(frame)
        assert packet.cn == frame.split(b"CN=")[1][:4].decode()
    else:
        with pytest.raises(DecodeError) as info:
            decode_packet(frame)
        assert info.value.reason == "bad_crc"


def test_vectors_through_stream_decoder() -> None:
    decoder = StreamDecoder()
    out = decoder.feed(b"".join(v["hex_or_text"].encode() for v in VECTORS))
    assert [not isinstance(o, DecodeError) for o in out] == [v["crc_ok"] for v in VECTORS]


def test_vector_ambient_minute_data_short_mn() -> None:
    packet = decode_packet(_vector("JLYP01_AIR01_0001"))
    assert packet.mn == "JLYP01_AIR01_0001" and packet.st == "22" and packet.cn == "2051"
    assert packet.data_time == datetime(2022, 5, 13, 16, 26, tzinfo=CST)
    (reading,) = to_readings(packet)
    assert reading.period == "PT1M" and reading.ts.isoformat() == "2022-05-13T16:26:00+08:00"
    assert reading.values == {"no2": 4, "o3": 63, "so2": 6, "co": 0.427, "pm25": 14, "pm10": 31,
                              "wind_speed": 1, "wind_dir": 11, "temp": 17, "rh": 85, "pressure": 95}
    assert reading.flags == {} and reading.unknown_factors == []


def test_vector_lowercase_crc_and_2025_flag() -> None:
    packet = decode_packet(_vector("ZLDSZ20210127"))
    assert packet.flag == 8 and packet.version == 2 and not packet.ack_requested
    assert packet.factors["w21003"].rtd == pytest.approx(0.09055002)


def test_vector_legacy_2005_packet() -> None:
    packet = decode_packet(_vector("PW=000000"))
    assert packet.qn is None and packet.flag is None and packet.version == 0
    assert packet.mn == "LD130133000015"
    assert set(packet.factors) == {"011", "B01", "060"}
    assert packet.factors["B01"].rtd == 36.91 and packet.factors["B01"].flag is None


def test_vector_copied_readme_sample_is_bad_crc() -> None:
    with pytest.raises(DecodeError) as info:
        decode_packet(_vector("&&4980"))
    assert info.value.reason == "bad_crc" and "3C00" in info.value.detail


def test_vector_sample_time_and_eflag_kept_as_text() -> None:
    packet = decode_packet(_vector("EFlag=A01"))
    factor = packet.factors["w01018"]
    assert factor.rtd == 2.2 and factor.flag == "N"
    assert factor.extra == {"SampleTime": "20160801070000", "EFlag": "A01"}


@pytest.mark.parametrize(("cn", "period"), [("2051", "PT1M"), ("2061", "PT1H")])
def test_vector_interval_data_keeps_min_max_cou(cn: str, period: str) -> None:
    frame = next(v["hex_or_text"] for v in VECTORS
                 if f"CN={cn}" in v["hex_or_text"] and "PNUM" not in v["hex_or_text"]
                 and "w00000-Cou" in v["hex_or_text"])
    packet = decode_packet(frame)
    w00000 = packet.factors["w00000"]
    assert (w00000.min, w00000.avg, w00000.max) == (16.4, 17.5, 20.1)
    assert w00000.cou in (10.5, 63.0)
    assert packet.factors["w01001"].cou is None
    (reading,) = to_readings(packet)
    assert reading.period == period and reading.values == {}
    assert reading.unknown_factors == ["w00000", "w01001", "w01018"]


def test_vector_split_parts_reassembled_by_mn_cn_datatime() -> None:
    part1, part2 = (decode_packet(_vector(f"PNUM=2;PNO={n}")) for n in (1, 2))
    assert (part1.pnum, part1.pno, part2.pno) == (2, 1, 2) and part1.qn != part2.qn
    assert part1.flag == 6 and part1.is_split and not part1.ack_requested
    reassembler = Reassembler(clock=lambda: 0.0)
    assert reassembler.add(part2) is None
    merged = reassembler.add(part1)
    assert merged is not None and len(reassembler) == 0
    assert list(merged.factors) == ["w00000", "w01001", "w01018"]
    assert merged.qn == part1.qn and merged.pnum is None and merged.flag == 4
    assert merged.factors["w01018"].cou == 63.0


@pytest.mark.parametrize(
    ("fragment", "cn", "cp"),
    [
        pytest.param("CN=9014", "9014", {}, id="9014-data-answer"),
        pytest.param("QnRtn=1", "9011", {"QnRtn": "1"}, id="9011-request-answer"),
        pytest.param("ExeRtn=1", "9012", {"ExeRtn": "1"}, id="9012-execution-result"),
    ],
)
def test_vector_platform_replies(fragment: str, cn: str, cp: dict) -> None:
    packet = decode_packet(_vector(fragment))
    assert (packet.st, packet.cn, packet.cp, packet.qn) == ("91", cn, cp, packet.qn)
    assert encode_packet(packet) == _vector(fragment)


def test_vector_field_quirks_trailing_semicolon_out_of_order_no_qn() -> None:
    packet = decode_packet(_vector("DYGLO000001A000001"))
    assert packet.qn is None and packet.st == "27" and packet.flag == 4
    assert packet.factors["a01013"].rtd == -18.74
    assert packet.factors["a05002"].values == {"Rtd": -0.94, "Cou": 0.0}


def test_public_surface() -> None:
    import edge.protocols.hj212 as hj212

    assert all(hasattr(hj212, name) for name in hj212.__all__)
    assert "decode_packet" in hj212.__all__ and "_crc" not in hj212.__all__
