"""Every SL651 entry of the field-protocol vectors (tests/data) decodes as its notes say."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from edge.protocols.sl651 import (
    FrameError, Reason, Reassembler, StreamDecoder, ack, decode_frame, observations,
)

VECTORS = Path(__file__).parents[2] / "data/field-protocols/field-protocol-examples.json"
CST = timezone(timedelta(hours=8))


def _sl651() -> list[dict]:
    return [v for v in json.loads(VECTORS.read_text()) if v["protocol"] == "SL651"]


def _by_crc(crc_hex: str) -> bytes:
    """Vectors are keyed by their CRC field (unique in the file)."""
    [vector] = [v for v in _sl651() if v["hex_or_text"].upper().endswith(crc_hex)]
    return bytes.fromhex(vector["hex_or_text"])


def t(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=CST)


# CRC field -> expected header fields and (element id, value, ts) triples that must be present.
EXPECTED = {
    "6BCA": dict(direction="up", function=0x2F, station="0012345678", centre=0x01, password=0x1234,
                 serial=3, sent=t(2059, 10, 11, 15, 51, 11), end=0x03, elements=[]),
    "C3AE": dict(direction="up", function=0x2F, station="9876543210", centre=0x00, serial=0x7E08,
                 sent=t(2022, 10, 11, 10, 7, 47), end=0x03),
    "20FA": dict(direction="up", function=0x30, station="0012345678", serial=3, end=0x03,
                 elements=[(0xF1, ("0012345678", 0x48), None),
                           (0x20, 0.5, t(2059, 10, 11, 15, 49)),
                           (0x26, 0.5, t(2059, 10, 11, 15, 49)),
                           (0x39, 0.127, t(2059, 10, 11, 15, 49)),
                           (0x38, 11.15, t(2059, 10, 11, 15, 49))]),
    "75D4": dict(direction="down", function=0x30, station="0012345678", centre=0x01, serial=3,
                 sent=t(2059, 10, 11, 15, 49, 47), end=0x1B),
    "A421": dict(direction="up", function=0x32, station="0011223344", centre=0x05,
                 password=0x03E8, serial=0x34, end=0x03,
                 elements=[(0x20, 4.0, t(2017, 7, 18, 11, 0)), (0x26, 4.0, t(2017, 7, 18, 11, 0)),
                           (0x39, 10.49, t(2017, 7, 18, 11, 0)),
                           (0x38, 10.99, t(2017, 7, 18, 11, 0))]),
    "E5D4": dict(direction="down", function=0x32, station="0011223344", centre=0x05,
                 serial=0x34, end=0x1B),
    "F511": dict(direction="up", function=0x33, serial=0x26,
                 elements=[(0x39, 10.49, t(2017, 7, 18, 10, 22)),
                           (0x38, 11.02, t(2017, 7, 18, 10, 22))]),
    "F502": dict(direction="up", function=0x34, serial=0x33,
                 elements=[(0xF4, (5, 0, 0, 0, 20, None, None, None, None, None, 0, 0),
                            t(2017, 7, 18, 10, 5)),
                           (0x26, 4.0, t(2017, 7, 18, 11, 0)),
                           (0xF5, (12, 12, 28, 49, 49) + (None,) * 5 + (49, 49),
                            t(2017, 7, 18, 10, 5)),
                           (0x39, 10.49, t(2017, 7, 18, 11, 0)),
                           (0x38, 10.99, t(2017, 7, 18, 11, 0))]),
    "E8AB": dict(direction="up", function=0x38, serial=0x35,
                 elements=[(0x04, timedelta(minutes=5), t(2017, 7, 18, 10, 5)),
                           (0xF4, (5, 0, 0, 0, 20, None, None, None, None, None, 0, 0),
                            t(2017, 7, 18, 10, 5))]),
    "27A2": dict(direction="up", function=0x31, serial=0x35,
                 elements=[(0x04, timedelta(minutes=5), t(2017, 7, 18, 10, 5)),
                           (0xF4, (5, 0, 0, 0, 20, None, None, None, None, None, 0, 0),
                            t(2017, 7, 18, 10, 5))]),
    "15C1": dict(direction="up", function=0x46, serial=0x23,
                 elements=[(0xF1, ("0011223344", None), None),
                           (0x45, 0x00000400, t(2017, 7, 18, 10, 20, 8))]),
    "B698": dict(direction="up", function=0x35, centre=0x10, serial=0x0F,
                 sent=t(2013, 3, 25, 9, 58, 4),
                 elements=[(0xF2, "yanyu1988:YCZ-2A-101!!!", t(2013, 3, 25, 9, 58, 4))]),
    "A2DF": dict(direction="down", function=0x33, station="0012305678", centre=0x10,
                 serial=0x0C, sent=t(2014, 6, 12, 2, 0, 15), end=0x04),
    "96CB": dict(direction="up", function=0x36, packets=(13, 1), serial=5,
                 sent=t(2059, 10, 11, 16, 11, 18), end=0x17, elements=[]),
    "CBF6": dict(direction="up", function=0x36, packets=(13, 13), serial=None, sent=None,
                 end=0x03, elements=[]),
}
BAD = {"4602": Reason.BAD_CRC, "7B54": Reason.BAD_CRC}


def test_every_sl651_vector_has_an_expectation():
    crcs = {v["hex_or_text"][-4:].upper() for v in _sl651()}
    assert crcs == set(EXPECTED) | set(BAD)
    for v in _sl651():
        assert (v["hex_or_text"][-4:].upper() in BAD) == (not v["crc_ok"])


@pytest.mark.parametrize("crc", sorted(EXPECTED))
def test_good_vector_decodes(crc):
    want = dict(EXPECTED[crc])
    frame = decode_frame(_by_crc(crc))
    for element in want.pop("elements", None) or []:
        assert element in [(e.id, e.value, e.ts) for e in frame.elements], element
    if "elements" in EXPECTED[crc] and not EXPECTED[crc]["elements"]:
        assert frame.elements == ()
    want.setdefault("packets", None)
    for name, value in want.items():
        assert getattr(frame, name) == value, name
    if frame.sent is not None:
        assert frame.sent.utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize("crc", sorted(BAD))
def test_bad_vector_rejected(crc):
    with pytest.raises(FrameError) as caught:
        decode_frame(_by_crc(crc))
    assert caught.value.reason == BAD[crc]
    assert caught.value.station is not None


def test_bad_crc_vector_still_parses_when_crc_check_is_off():
    frame = decode_frame(_by_crc("7B54"), verify_crc=False)
    stage = [e for e in frame.elements if e.id == 0x39]
    assert [(e.value, e.decimals) for e in stage] == [(98.36, 2)]


def test_ack_reproduces_the_published_acks():
    test_report = decode_frame(_by_crc("20FA"))
    assert ack(test_report, sent=test_report.sent, keep_online=True) == _by_crc("75D4")
    timed = decode_frame(_by_crc("A421"))
    assert ack(timed, sent=timed.sent, keep_online=True) == _by_crc("E5D4")


def test_observations_of_hourly_report():
    *arrays, obs = observations(decode_frame(_by_crc("F502")))
    assert obs["ts"] == t(2017, 7, 18, 11, 0) and obs["period"] == "PT0S"
    # the 12th relative-stage sample (0x0031 = 49 cm) shares 11:00 with 39 23 = 10.490 m
    assert obs["values"] == {"stage": 10.49, "voltage": 10.99, "stage_relative": 0.49}
    assert obs["station"] == "0011223344" and obs["function"] == 0x34
    assert len(arrays) == 12 + 11  # 12 rain totals, 11 more stage samples (10:05 .. 10:55)


def test_keepalive_with_7e_in_serial_is_found_in_a_stream():
    frame = _by_crc("C3AE")
    decoder = StreamDecoder()
    out = decoder.feed(b"\x7e\x00\x7e" + frame[:5]) + decoder.feed(frame[5:] + frame)
    assert [f.serial for f in out if not isinstance(f, FrameError)] == [0x7E08, 0x7E08]


def test_all_good_vectors_glued_in_one_stream():
    good = [_by_crc(crc) for crc in sorted(EXPECTED)]
    bad = [_by_crc(crc) for crc in sorted(BAD)]
    out = StreamDecoder().feed(b"".join(good[:5] + bad + good[5:]))
    frames = [x for x in out if not isinstance(x, FrameError)]
    assert len(frames) == len(good)
    assert {e.reason for e in out if isinstance(e, FrameError)} == {Reason.BAD_CRC}


def test_image_packets_first_and_last_wait_and_expire():
    now = [0.0]
    reassembler = Reassembler(clock=lambda: now[0], ttl=60)
    assert reassembler.add(decode_frame(_by_crc("96CB"))) == []
    assert reassembler.add(decode_frame(_by_crc("CBF6"))) == []
    now[0] = 61.0
    [expired] = reassembler.expire()
    assert expired.reason == Reason.EXPIRED and "11 of 13" in expired.detail
    assert len(reassembler) == 0
