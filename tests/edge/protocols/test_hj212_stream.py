"""HJ 212 stream decoder: framing over TCP reads, resynchronisation, bounds, statistics."""

from __future__ import annotations

from datetime import datetime

import pytest

from edge.protocols.hj212 import CST, DecodeError, Packet, StreamDecoder, build_upload, encode_packet

DT = datetime(2024, 1, 5, 10, 0, tzinfo=CST)


def upload(mn: str = "610100000001", **factors: float) -> bytes:
    (packet,) = build_upload("2011", mn, DT, factors or {"a34004": (75.6, "N")})
    return encode_packet(packet)


def feed_all(decoder: StreamDecoder, data: bytes, chunk: int) -> list[Packet | DecodeError]:
    out: list[Packet | DecodeError] = []
    for i in range(0, len(data), chunk):
        out += decoder.feed(data[i : i + chunk])
    return out + decoder.close()


def kinds(out: list[Packet | DecodeError]) -> list[str]:
    return [o.reason.value if isinstance(o, DecodeError) else o.mn for o in out]


A, B, C = upload("A"), upload("B"), upload("C")


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 10_000])
def test_glued_packets_in_any_chunking(chunk: int) -> None:
    assert kinds(feed_all(StreamDecoder(), A + B + C, chunk)) == ["A", "B", "C"]


def test_every_split_point_of_one_packet() -> None:
    for cut in range(len(A) + 1):
        decoder = StreamDecoder()
        out = decoder.feed(A[:cut]) + decoder.feed(A[cut:])
        assert kinds(out) == ["A"], cut
        assert decoder.buffered == 0


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b"noise\x00\xff" + A + b"\r\n\r\nmore" + B, ["A", "B"], id="garbage-between"),
        pytest.param(b"#" + A + b"###" + B, ["A", "B"], id="hash-runs"),
        pytest.param(A[:40] + B, ["truncated", "B"], id="truncated-then-valid"),
        pytest.param(A[:-3] + b"\r\n" + B, ["bad_crc", "B"], id="three-char-crc-keeps-sync"),
        pytest.param(A[:-6] + b"0000\r\n" + B, ["bad_crc", "B"], id="wrong-crc"),
        pytest.param(A[:-2] + B, ["A", "B"], id="missing-crlf-before-next"),
        pytest.param(b"##\r\n" + A, ["bad_length", "A"], id="empty-frame"),
        pytest.param(b"##9999" + b"x" * 5000 + A, ["oversize", "A"], id="oversize-no-crlf"),
        pytest.param(A + B[:30], ["A", "truncated"], id="cut-at-end-of-stream"),
    ],
)
def test_resynchronises(data: bytes, expected: list[str]) -> None:
    for chunk in (1, 13, len(data)):
        assert kinds(feed_all(StreamDecoder(), data, chunk)) == expected


def test_stats_are_counted() -> None:
    decoder = StreamDecoder()
    feed_all(decoder, b"xyz" + A + A[:-6] + b"0000\r\n" + A[:-2] + B, 5)
    stats = decoder.stats
    assert stats.packets == 3 and stats.errors == {"bad_crc": 1}
    assert stats.skipped_bytes == 3 and stats.unterminated == 1


def test_swapped_crc_counted_never_silent() -> None:
    (packet,) = build_upload("2011", "SWAP", DT, {"a34004": 1})
    packet.crc_swapped = True
    raw = encode_packet(packet)
    strict = StreamDecoder()
    assert kinds(strict.feed(raw)) == ["bad_crc"]
    tolerant = StreamDecoder(swapped_crc_devices={"SWAP"})
    (decoded,) = tolerant.feed(raw + A)[:1]
    assert decoded.crc_swapped and tolerant.stats.crc_swapped == 1


def test_buffer_bounded_on_garbage() -> None:
    decoder = StreamDecoder(max_length=1024)
    for _ in range(200):
        decoder.feed(b"##0500" + b"z" * 997)
        assert decoder.buffered <= 1024 + 16
    for _ in range(200):
        decoder.feed(b"no header here at all " * 50)
        assert decoder.buffered <= 1
    assert kinds(decoder.feed(A)) == ["A"]


def test_long_packets_up_to_max_length() -> None:
    (packet,) = build_upload("2011", "LONG", DT, {f"a{i:05d}": i for i in range(150)},
                             max_length=4096)
    raw = encode_packet(packet)
    assert 1024 < len(raw) - 12 <= 4096
    assert kinds(StreamDecoder().feed(raw)) == ["LONG"]
    assert kinds(StreamDecoder(max_length=1024).feed(raw + A)) == ["oversize", "A"]


def test_close_resets() -> None:
    decoder = StreamDecoder()
    decoder.feed(A[:-2])
    assert kinds(decoder.close()) == ["A"]
    assert decoder.buffered == 0 and decoder.close() == []


def test_throughput_budget() -> None:
    """The simulator plays >= 2,000 stations/s and the agent decodes them: keep ample headroom."""
    import time

    values = {c: (12.5, "N") for c in ("a34004", "a34002", "a21026", "a21004", "a05024",
                                       "a21005", "a01001", "a01002", "a01006", "a01007", "a01008")}
    start = time.perf_counter()
    data = b"".join(encode_packet(build_upload("2011", f"MN{n:010d}", DT, values)[0])
                    for n in range(2000))
    out = StreamDecoder().feed(data)
    assert len(out) == 2000 and all(isinstance(o, Packet) for o in out)
    assert time.perf_counter() - start < 4.0  # about 0.2 s on one idle core; room for CI load
