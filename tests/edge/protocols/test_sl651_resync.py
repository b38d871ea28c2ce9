"""SL 651 stream resynchronisation after a corrupted length byte, and the idle-timeout flush
(issue 16 item 10). Valid frames are the published vectors (tests/data); the corruptions are
made here, byte by byte."""

from __future__ import annotations

import pytest

from edge.protocols.sl651 import Frame, FrameError, StreamDecoder

from .test_sl651_vectors import _by_crc

TIMED, HOURLY, EXTRA = _by_crc("A421"), _by_crc("F502"), _by_crc("F511")
# The issue's bytes: 7E 7E, centre 05, station 0011223344, password 0001, function 32, then
# direction+length 0F FF (up, 4095 body bytes: one corrupted length byte) and start char 02.
ISSUE_HEAD = bytes.fromhex("7E7E0500112233440001320FFF02")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def frames(items) -> list[Frame]:
    return [i for i in items if isinstance(i, Frame)]


def errors(items) -> list[FrameError]:
    return [i for i in items if isinstance(i, FrameError)]


def with_length(frame: bytes, length: int) -> bytes:
    """The frame with bytes 11-12 (direction + length) replaced; its CRC left as it was."""
    return frame[:11] + length.to_bytes(2, "big") + frame[13:]


def test_issue_example_decodes_what_follows() -> None:
    # The head asks for 14 + 4095 + 3 bytes, so before the fix everything behind it stayed
    # pending (the issue saw 520 bytes). Now every frame behind it comes out; the head is lost.
    following = (TIMED + HOURLY + EXTRA) * 2
    decoder = StreamDecoder()
    out = decoder.feed(ISSUE_HEAD + following)
    assert [f.body for f in frames(out)] == [f.body for f in frames(
        StreamDecoder().feed(following))]
    assert len(frames(out)) == 6
    [error] = errors(out)
    assert error.reason == "bad_length" and error.offset == 0
    assert error.station == "0011223344" and error.function == 0x32
    assert error.raw == ISSUE_HEAD  # the verified frame starts right after the 14 bytes
    assert decoder.pending == 0 and decoder.resyncs == 1


def test_issue_example_fed_byte_by_byte() -> None:
    decoder = StreamDecoder()
    out = []
    for byte in ISSUE_HEAD + TIMED + HOURLY:
        out += decoder.feed(bytes([byte]))
    assert [f.function for f in frames(out)] == [0x32, 0x34]
    assert [e.reason for e in errors(out)] == ["bad_length"] and decoder.pending == 0


@pytest.mark.parametrize("length", [0x0FFF, 0x0100, 0x002C, 0x002A, 0x0000, 0x002B + 60])
def test_corrupted_length_costs_only_that_frame(length: int) -> None:
    # the timed report's length is 0x002B = 43; any other value breaks just that frame
    stream = HOURLY + with_length(TIMED, length) + EXTRA + HOURLY
    decoder = StreamDecoder()
    out = decoder.feed(stream) + decoder.flush()
    assert [f.function for f in frames(out)] == [0x34, 0x33, 0x34]
    assert errors(out)


def test_corrupted_last_frame_waits_then_is_reported_at_flush() -> None:
    decoder = StreamDecoder()
    out = decoder.feed(HOURLY + with_length(TIMED, 0x0FFF))
    assert [f.function for f in frames(out)] == [0x34] and decoder.pending == len(TIMED)
    assert [e.reason for e in decoder.flush()] == ["truncated"] and decoder.pending == 0


def test_idle_timeout_flushes_a_stalled_candidate() -> None:
    clock = Clock()
    decoder = StreamDecoder(idle_timeout=30.0, clock=clock)
    assert decoder.feed(with_length(TIMED, 0x0FFF)) == []
    clock.now += 29.9
    assert decoder.poll() == [] and decoder.pending == len(TIMED)
    clock.now += 0.1  # 30 s without a byte
    [error] = decoder.poll()
    assert error.reason == "truncated" and decoder.pending == 0


def test_bytes_after_an_idle_gap_start_afresh() -> None:
    clock = Clock()
    decoder = StreamDecoder(idle_timeout=30.0, clock=clock)
    decoder.feed(TIMED[:20])  # a frame cut off: the unit went silent
    clock.now += 45
    out = decoder.feed(HOURLY)
    assert [type(i).__name__ for i in out] == ["FrameError", "Frame"]
    assert out[0].reason == "truncated" and out[1].function == 0x34


def test_a_slow_frame_within_the_timeout_still_decodes() -> None:
    clock = Clock()
    decoder = StreamDecoder(idle_timeout=30.0, clock=clock)
    assert decoder.feed(TIMED[:20]) == []
    clock.now += 29
    assert decoder.poll() == []
    [frame] = decoder.feed(TIMED[20:])
    assert frame.function == 0x32


def test_idle_timeout_can_be_switched_off() -> None:
    clock = Clock()
    decoder = StreamDecoder(idle_timeout=None, clock=clock)
    decoder.feed(TIMED[:20])
    clock.now += 10**6
    assert decoder.poll() == [] and decoder.pending == 20
