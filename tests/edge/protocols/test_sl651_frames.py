"""Hand-built frames (assembled byte by byte here, CRC by a local bit loop) and error reasons."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from edge.protocols.sl651 import (
    FrameError, Reason, StreamDecoder, decode_frame, observations,
)

CST = timezone(timedelta(hours=8))
STATION = bytes([0x00, 0x61, 0x00, 0x01, 0x23])
SERIAL_TIME = bytes([0x00, 0x2A, 0x24, 0x05, 0x01, 0x08, 0x05, 0x30])  # serial 42, 24-05-01 08:05:30
HEAD_ELEMENTS = bytes([0xF1, 0xF1, *STATION, 0x48, 0xF0, 0xF0, 0x24, 0x05, 0x01, 0x08, 0x00])


def crc(data: bytes) -> int:
    value = 0xFFFF
    for byte in data:
        value ^= byte
        for _ in range(8):
            value = (value >> 1) ^ 0xA001 if value & 1 else value >> 1
    return value


def up(function: int, body: bytes, *, end: int = 0x03, start: bytes = b"\x02",
       length: int | None = None, good_crc: bool = True) -> bytes:
    counter = len(start) - 1  # a 0x16 start passes its 3 packet bytes inside ``start``
    n = len(body) + counter if length is None else length
    frame = bytes([0x7E, 0x7E, 0x01, *STATION, 0x12, 0x34, function, n >> 8, n & 0xFF])
    frame += start + body + bytes([end])
    value = crc(frame) ^ (0 if good_crc else 0x0001)
    return frame + bytes([value >> 8, value & 0xFF])


def down(function: int, body: bytes, *, end: int) -> bytes:
    n = len(body)
    frame = bytes([0x7E, 0x7E, *STATION, 0x01, 0x12, 0x34, function, 0x80 | n >> 8, n & 0xFF, 0x02])
    frame += body + bytes([end])
    return frame + crc(frame).to_bytes(2, "big")


def values(frame) -> list[tuple[int, object]]:
    return [(e.id, e.value) for e in frame.elements]


def test_timed_report_with_negative_and_invalid_values():
    body = SERIAL_TIME + HEAD_ELEMENTS + bytes([
        0x39, 0x23, 0xFF, 0x01, 0x23, 0x45,  # stage -12.345 (FF leader)
        0x27, 0x2B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,  # discharge invalid
        0x38, 0x12, 0x12, 0x34,  # voltage 12.34
        0x39, 0x23, 0xF1, 0x23, 0x45, 0x67,  # stage -1234.567 (F nibble)
    ])
    frame = decode_frame(up(0x32, body))
    assert (frame.direction, frame.function, frame.station, frame.centre) == (
        "up", 0x32, "0061000123", 1)
    assert (frame.password, frame.serial, frame.end) == (0x1234, 42, 0x03)
    assert frame.sent == datetime(2024, 5, 1, 8, 5, 30, tzinfo=CST)
    assert values(frame)[2:] == [(0x39, -12.345), (0x27, None), (0x38, 12.34), (0x39, -1234.567)]
    [obs] = observations(frame)
    assert obs["ts"] == datetime(2024, 5, 1, 8, 0, tzinfo=CST)
    assert obs["ts"].utcoffset() == timedelta(hours=8)
    assert obs["values"] == {"stage": -1234.567, "voltage": 12.34}
    assert obs["flags"] == {"discharge": "D"}


def test_down_link_query_puts_station_first():
    frame = decode_frame(down(0x37, bytes([0x00, 0x00, 0x24, 0x05, 0x01, 0x08, 0x00, 0x00]),
                              end=0x05))
    assert (frame.direction, frame.station, frame.centre, frame.function) == (
        "down", "0061000123", 0x01, 0x37)
    assert (frame.serial, frame.end, frame.elements) == (0, 0x05, ())


def test_uniform_interval_two_elements_interleaved_by_step():
    body = SERIAL_TIME + HEAD_ELEMENTS + bytes([
        0x04, 0x18, 0x00, 0x00, 0x05,  # step 5 min
        0x39, 0x23, 0x27, 0x2B,  # identifiers: stage, discharge
        0x00, 0x00, 0x12, 0x34, 0x00, 0x00, 0x05, 0x67, 0x89,  # t0: 1.234 m, 56.789 m3/s
        0x00, 0x00, 0x12, 0x40, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,  # t1: 1.240 m, invalid
        0x00, 0x00, 0x12, 0x50, 0x00, 0x00, 0x05, 0x70, 0x00,  # t2: 1.250 m, 57.0
    ])
    frame = decode_frame(up(0x31, body))
    t0 = datetime(2024, 5, 1, 8, 0, tzinfo=CST)
    series = [(e.id, e.value, e.ts) for e in frame.elements if e.id in (0x39, 0x27)]
    assert series == [
        (0x39, 1.234, t0), (0x27, 56.789, t0),
        (0x39, 1.24, t0 + timedelta(minutes=5)), (0x27, None, t0 + timedelta(minutes=5)),
        (0x39, 1.25, t0 + timedelta(minutes=10)), (0x27, 57.0, t0 + timedelta(minutes=10)),
    ]
    obs = observations(frame)
    assert [o["ts"] for o in obs] == [t0 + timedelta(minutes=5 * k) for k in range(3)]
    assert obs[1] | {"ts": None} == {"ts": None, "period": "PT0S", "station": "0061000123",
                                     "function": 0x31, "values": {"stage": 1.24}, "flags": {"discharge": "D"}}


def test_uniform_interval_single_element_series():
    body = SERIAL_TIME + HEAD_ELEMENTS + bytes([0x04, 0x18, 0x00, 0x01, 0x00, 0x39, 0x23])
    body += bytes([0x00, 0x00, 0x01, 0x00]) * 4
    frame = decode_frame(up(0x31, body))
    stages = [(e.value, e.ts.hour) for e in frame.elements if e.id == 0x39]
    assert stages == [(0.1, 8), (0.1, 9), (0.1, 10), (0.1, 11)]


def test_multi_packet_packets_decode_and_reassemble():
    from edge.protocols.sl651 import Reassembler

    body = SERIAL_TIME + HEAD_ELEMENTS + bytes([0x39, 0x23, 0x00, 0x03, 0x45, 0x67])  # 34.567 m
    first, second = body[:12], body[12:]
    p1 = up(0x34, first, start=bytes([0x16, 0x00, 0x20, 0x01]), end=0x17)  # total 2, seq 1
    p2 = up(0x34, second, start=bytes([0x16, 0x00, 0x20, 0x02]), end=0x03)  # total 2, seq 2
    f1, f2 = decode_frame(p1), decode_frame(p2)
    assert (f1.packets, f1.serial, f1.end) == ((2, 1), 42, 0x17)
    assert (f2.packets, f2.serial, f2.sent) == ((2, 2), None, None)
    reassembler = Reassembler(clock=lambda: 0.0)
    assert reassembler.add(f2) == []
    [whole] = reassembler.add(f1)
    assert whole.complete and whole.serial == 42 and whole.end == 0x03
    assert observations(whole)[0]["values"] == {"stage": 34.567}


GOOD_BODY = SERIAL_TIME + HEAD_ELEMENTS + bytes([0x39, 0x23, 0x00, 0x00, 0x12, 0x34])


def _patched(offset: int, value: int) -> bytes:
    """A good frame with one byte changed and the CRC recomputed."""
    raw = bytearray(up(0x32, GOOD_BODY)[:-2])
    raw[offset] = value
    return bytes(raw) + crc(bytes(raw)).to_bytes(2, "big")


ERRORS = {
    "bad_crc": (up(0x32, GOOD_BODY, good_crc=False), Reason.BAD_CRC),
    "length-too-short": (up(0x32, GOOD_BODY, length=len(GOOD_BODY) - 1), Reason.BAD_LENGTH),
    "length-too-long": (up(0x32, GOOD_BODY, length=len(GOOD_BODY) + 1) + b"\x00",
                        Reason.BAD_LENGTH),
    "up-with-down-end-char": (up(0x32, GOOD_BODY, end=0x04), Reason.BAD_LENGTH),
    "unknown-function": (up(0x99, GOOD_BODY), Reason.UNKNOWN_FUNCTION),
    "bad-start-char": (up(0x32, GOOD_BODY, start=b"\x03"), Reason.BAD_FIELD),
    "direction-nibble-4": (_patched(11, 0x40), Reason.BAD_FIELD),
    "packet-seq-above-total": (up(0x32, GOOD_BODY, start=bytes([0x16, 0x00, 0x10, 0x02])),
                               Reason.BAD_FIELD),
    "multi-packet-length-under-3": (up(0x32, b"\x00", start=b"\x16", length=2)[:17],
                                    Reason.BAD_LENGTH),
    "F1-not-repeated": (up(0x32, SERIAL_TIME + bytes([0xF1, 0xF0]) + STATION + b"\x48"),
                        Reason.BAD_FIELD),
    "element-past-body": (up(0x32, SERIAL_TIME + bytes([0x39, 0x23, 0x00])), Reason.BAD_FIELD),
    "zero-length-element": (up(0x32, SERIAL_TIME + bytes([0x39, 0x03])), Reason.BAD_FIELD),
    "body-under-8": (up(0x32, SERIAL_TIME[:7]), Reason.BAD_LENGTH),
    "send-time-not-bcd": (up(0x32, SERIAL_TIME[:2] + b"\x2A" + SERIAL_TIME[3:]), Reason.BAD_BCD),
    "send-time-month-13": (up(0x32, SERIAL_TIME[:3] + b"\x13" + SERIAL_TIME[4:]),
                           Reason.BAD_FIELD),
    "stage-not-bcd": (up(0x32, SERIAL_TIME + bytes([0x39, 0x23, 0x00, 0x0A, 0x00, 0x00])),
                      Reason.BAD_BCD),
    "series-does-not-divide": (up(0x31, SERIAL_TIME + HEAD_ELEMENTS + bytes(
        [0x04, 0x18, 0x00, 0x00, 0x05, 0x39, 0x23, 0x00, 0x00, 0x01])), Reason.BAD_FIELD),
    "truncated": (up(0x32, GOOD_BODY)[:-1], Reason.TRUNCATED),
    "no-sync": (b"\x7e\x00" + up(0x32, GOOD_BODY)[2:], Reason.BAD_FIELD),
    "trailing-bytes": (up(0x32, GOOD_BODY) + b"\x00", Reason.BAD_LENGTH),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_rejected_with_reason(name):
    data, reason = ERRORS[name]
    with pytest.raises(FrameError) as caught:
        decode_frame(data)
    assert caught.value.reason == reason, caught.value
    assert caught.value.reason.value == str(reason)


def test_oversize_against_configured_limit():
    data = up(0x32, GOOD_BODY)
    with pytest.raises(FrameError) as caught:
        decode_frame(data, max_body=16)
    assert caught.value.reason == Reason.OVERSIZE
    assert decode_frame(data, max_body=len(GOOD_BODY)).serial == 42


def test_errors_carry_station_function_and_bytes():
    data, _ = ERRORS["bad_crc"]
    with pytest.raises(FrameError) as caught:
        decode_frame(data)
    error = caught.value
    assert (error.station, error.function, error.raw) == ("0061000123", 0x32, data)


def test_stream_split_glued_garbage_and_truncated_tail():
    good = up(0x32, GOOD_BODY)
    stream = b"\x00\x7e\xff" + good + good + b"garbage\x7e" + ERRORS["bad_crc"][0] + good + good[:9]
    decoder = StreamDecoder()
    out = [item for k in range(0, len(stream), 7) for item in decoder.feed(stream[k : k + 7])]
    kinds = [x.reason if isinstance(x, FrameError) else x.serial for x in out]
    assert kinds == [42, 42, Reason.BAD_CRC, 42]
    assert out[2].offset == 3 + 2 * len(good) + 8
    assert decoder.pending == 9
    [tail] = decoder.flush()
    assert tail.reason == Reason.TRUNCATED and decoder.pending == 0


def test_stream_on_pure_garbage_keeps_at_most_one_byte():
    decoder = StreamDecoder()
    for _ in range(1000):
        assert decoder.feed(bytes(range(0x00, 0x7E)) + b"\x7e") == []
        assert decoder.pending <= 1
    assert decoder.skipped == 1000 * 0x7E + 999


def test_stream_rejects_unknown_function_and_finds_next_frame():
    good = up(0x32, GOOD_BODY)
    out = StreamDecoder().feed(up(0x99, GOOD_BODY) + good)
    assert [getattr(x, "reason", None) for x in out] == [Reason.UNKNOWN_FUNCTION, None]
