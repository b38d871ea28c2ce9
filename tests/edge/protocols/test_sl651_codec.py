"""Encoders, acks and the reassembler's bounded state."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from edge.protocols.sl651 import (
    EncodeError, FrameError, Reason, Reassembler, StreamDecoder, ack, decode_frame, encode_down,
    encode_up, observations,
)

CST = timezone(timedelta(hours=8))
T = datetime(2024, 5, 1, 8, 0, 0, tzinfo=CST)
STATION = "0061000123"


def test_keepalive_is_serial_and_time_only():
    [raw] = encode_up(0x2F, STATION, serial=9, sent=T, centre=2, password=0x1234)
    assert raw.hex().upper().startswith("7E7E02" + STATION + "12342F000802" + "0009240501080000" + "03")
    frame = decode_frame(raw)
    assert (frame.function, frame.serial, frame.sent, frame.elements) == (0x2F, 9, T, ())
    assert ack(frame, sent=T) is None  # keep-alives are not answered


def test_utc_send_time_is_written_as_china_time():
    utc = datetime(2024, 5, 1, 0, 0, tzinfo=timezone.utc)
    frame = decode_frame(encode_up(0x2F, STATION, serial=1, sent=utc)[0])
    assert frame.sent == T and frame.sent.utcoffset() == timedelta(hours=8)


def test_hourly_report_values_and_flags():
    [raw] = encode_up(0x34, STATION, serial=1, sent=T, observed=T - timedelta(minutes=5),
                      values={"stage": 372.105, "discharge": None, "voltage": 12.6})
    [obs] = observations(decode_frame(raw))
    assert obs["ts"] == T - timedelta(minutes=5)
    assert obs["values"] == {"stage": 372.105, "voltage": 12.6}
    assert obs["flags"] == {"discharge": "D"}


def test_large_report_is_split_and_reassembled():
    series = {"stage": [k / 1000 for k in range(288)], "discharge": [k / 8 for k in range(288)]}
    frames = encode_up(0x31, STATION, serial=77, sent=T, observed=T, series=series,
                       step=timedelta(minutes=5), max_body=512)
    assert len(frames) > 1
    decoded = [decode_frame(raw) for raw in frames]
    assert [f.end for f in decoded] == [0x17] * (len(frames) - 1) + [0x03]
    assert all(len(f.body) + 3 <= 512 for f in decoded)
    reassembler = Reassembler(clock=lambda: 0.0)
    out = [item for frame in reversed(decoded) for item in reassembler.add(frame)]
    [whole] = out
    obs = observations(whole)
    assert len(obs) == 288 and obs[-1]["ts"] == T + timedelta(minutes=5 * 287)
    assert obs[100]["values"] == {"stage": 0.1, "discharge": 12.5}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(function=0x36), "not an up-link report"),
        (dict(station="00610001"), "10 hex chars"),
        (dict(station="zz61000123"), "not hex"),
        (dict(values={"stage": 100000.0}), "does not fit"),
        (dict(values={"voltage": -12.0}), "does not fit"),
        (dict(values={"rain": 1.0}), "unknown observation"),
        (dict(function=0x31, series={"stage": [1.0]}), "time step"),
        (dict(function=0x31, series={"stage": [1.0], "discharge": []}, step=timedelta(minutes=5)),
         "equal length"),
        (dict(function=0x31, series={"stage": [1.0]}, step=timedelta(seconds=30)), "minutes"),
        (dict(series={"stage": [1.0]}), "only carried"),
        (dict(serial=70000), "serial"),
        (dict(sent=datetime(1999, 12, 31, tzinfo=CST)), "year"),
    ],
)
def test_encode_errors(kwargs, match):
    args = dict(function=0x32, station=STATION, serial=1, sent=T) | kwargs
    with pytest.raises(EncodeError, match=match):
        encode_up(args.pop("function"), args.pop("station"), **args)


def test_ack_end_chars():
    frames = [decode_frame(raw) for raw in encode_up(
        0x32, STATION, serial=5, sent=T, values={"stage": 1.0}, max_body=20)]
    middle, last = frames[0], frames[-1]
    assert decode_frame(ack(middle, sent=T)).end == 0x06  # ETB -> ACK, continue
    done = decode_frame(ack(last, sent=T, serial=5))
    assert (done.direction, done.end, done.serial, done.station) == ("down", 0x04, 5, STATION)
    assert decode_frame(ack(last, sent=T, keep_online=True)).end == 0x1B
    with pytest.raises(EncodeError):
        ack(done, sent=T)


def test_encode_down_query():
    frame = decode_frame(encode_down(0x37, STATION, serial=0, sent=T, centre=3))
    assert (frame.direction, frame.function, frame.end, frame.centre) == ("down", 0x37, 0x05, 3)


def _packets(station: str, serial: int, count: int = 3) -> list:
    values = {"stage": 1.0, "discharge": 2.0, "voltage": 3.0}
    raws = encode_up(0x32, station, serial=serial, sent=T, values=values, max_body=14)
    assert len(raws) >= count
    return [decode_frame(raw) for raw in raws]


def test_reassembler_expiry_by_injected_clock():
    now = [0.0]
    reassembler = Reassembler(clock=lambda: now[0], ttl=10)
    parts = _packets("0000000001", 1)
    assert reassembler.add(parts[0]) == []
    now[0] = 10.0
    assert reassembler.expire() == []
    now[0] = 10.5
    out = reassembler.add(parts[1])  # expires the idle message first, then starts a new one
    assert [e.reason for e in out] == [Reason.EXPIRED]
    assert out[0].station == "0000000001" and out[0].function == 0x32


def test_reassembler_evicts_least_recently_active():
    reassembler = Reassembler(clock=lambda: 0.0, max_pending=2)
    a, b, c = (_packets(f"000000000{k}", k) for k in (1, 2, 3))
    reassembler.add(a[0])
    reassembler.add(b[0])
    reassembler.add(a[1])  # a is now the most recent
    [evicted] = reassembler.add(c[0])
    assert (evicted.reason, evicted.station) == (Reason.EVICTED, "0000000002")
    assert len(reassembler) == 2


def test_reassembler_superseded_and_oversize():
    reassembler = Reassembler(clock=lambda: 0.0, max_bytes=20)
    first = _packets("0000000001", 1)
    reassembler.add(first[0])
    [superseded] = reassembler.add(_packets("0000000001", 2)[0])
    assert superseded.reason == Reason.INCOMPLETE
    [oversize] = reassembler.add(first[1])
    assert oversize.reason == Reason.OVERSIZE and len(reassembler) == 0


def test_complete_frames_pass_through_reassembler():
    frame = decode_frame(encode_up(0x2F, STATION, serial=1, sent=T)[0])
    assert Reassembler().add(frame) == [frame]


def test_decoder_throughput_smoke():
    raw = encode_up(0x34, STATION, serial=1, sent=T,
                    values={"stage": 1.0, "discharge": 2.0, "voltage": 12.0})[0]
    decoder = StreamDecoder()
    out = decoder.feed(raw * 2000)
    assert len(out) == 2000 and not any(isinstance(x, FrameError) for x in out)
