"""Property tests and a fixed-budget fuzz for SL 651 resynchronisation (issue 16 item 10) and
the 5-minute arrays (item 11); derandomised, so every run checks the same examples."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.protocols.sl651 import Frame, FrameError, StreamDecoder, build_frame, decode_frame, \
    encode_up, observations

BUDGET = settings(max_examples=300, deadline=None, derandomize=True)
FUZZ = settings(BUDGET, max_examples=1000)
CST = timezone(timedelta(hours=8))

stations = st.binary(min_size=5, max_size=5).map(lambda b: b.hex().upper())
minutes = st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31, 22)).map(
    lambda d: d.replace(second=0, microsecond=0, tzinfo=CST))
stages = st.one_of(st.none(), st.integers(0, 9_999_999).map(lambda n: n / 1000))


@st.composite
def reports(draw) -> bytes:
    function = draw(st.sampled_from([0x32, 0x33, 0x34]))
    [frame] = encode_up(function, draw(stations), serial=draw(st.integers(0, 0xFFFF)),
                        sent=draw(minutes), values={"stage": draw(stages)})
    return frame


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)])]


@BUDGET
@given(st.lists(reports(), min_size=2, max_size=6), st.data(), st.integers(0, 0x0FFF),
       st.lists(st.integers(0, 10_000), max_size=12))
def test_a_corrupted_length_costs_at_most_its_frame(items, data, length, cuts) -> None:
    k = data.draw(st.integers(0, len(items) - 1))
    broken = list(items)
    broken[k] = items[k][:11] + length.to_bytes(2, "big") + items[k][13:]
    decoder = StreamDecoder(idle_timeout=None)
    out = []
    for chunk in chunked(b"".join(broken), cuts):
        out += decoder.feed(chunk)
    out += decoder.flush()
    got = [bytes(f.body) for f in out if isinstance(f, Frame)]
    want = [decode_frame(f).body for n, f in enumerate(items) if n != k]
    kept = decode_frame(items[k]).body
    assert got in (want, want[:k] + [kept] + want[k:])  # the broken one is the only loss
    assert all(isinstance(o, (Frame, FrameError)) for o in out) and decoder.pending == 0


@st.composite
def arrays(draw):
    rain = draw(st.lists(st.integers(0, 255), min_size=12, max_size=12))
    stage = draw(st.lists(st.integers(0, 0xFFFF), min_size=12, max_size=12))
    return rain, stage


@BUDGET
@given(minutes, arrays(), st.none() | st.integers(0, 99_999).map(lambda n: n / 100))
def test_arrays_become_twelve_points_each(obs_time, values, base) -> None:
    rain, stage = values
    station = "0011223344"
    body = (bytes.fromhex("0001" "170718110014" "F1F1" + station + "48") + b"\xf0\xf0"
            + bytes.fromhex(obs_time.strftime("%y%m%d%H%M")) + b"\xf4\x60" + bytes(rain)
            + b"\xf5\xc0" + b"".join(v.to_bytes(2, "big") for v in stage))
    frame = decode_frame(build_frame(up=True, centre=1, station=station, password=0,
                                     function=0x34, body=body, end=0x03))
    groups = observations(frame, stage_base=base)
    name = "stage_relative" if base is None else "stage"
    for k in range(12):
        [r] = [g for g in groups if g["period"] == "PT5M"
               and g["ts"] == obs_time + timedelta(minutes=5 * k - 5)]
        if rain[k] == 0xFF:
            assert r["flags"] == {"rain": "D"}
        else:
            assert r["values"]["rain"] == rain[k] / 10
        [s] = [g for g in groups if g["period"] == "PT0S"
               and g["ts"] == obs_time + timedelta(minutes=5 * k)]
        if stage[k] == 0xFFFF:
            assert s["flags"] == {name: "D"}
        else:
            assert abs(s["values"][name] - (base or 0) - stage[k] / 100) < 1e-9


@FUZZ
@given(st.lists(reports() | st.binary(max_size=30) | st.sampled_from(
    [b"\x7e\x7e", b"\x7e", bytes.fromhex("7E7E0500112233440001320FFF02")]), max_size=8),
    st.lists(st.integers(0, 10_000), max_size=12), st.lists(st.floats(0, 60), max_size=12))
def test_fuzz_stream_with_idle_polls_never_raises(pieces, cuts, gaps) -> None:
    now = [0.0]
    decoder = StreamDecoder(idle_timeout=30.0, clock=lambda: now[0])
    out = []
    for n, chunk in enumerate(chunked(b"".join(pieces), cuts)):
        now[0] += gaps[n % len(gaps)] if gaps else 1.0
        out += decoder.poll() + decoder.feed(chunk)
        assert decoder.pending <= 14 + 0x0FFF + 3 + len(chunk)
    out += decoder.flush()
    assert all(isinstance(o, (Frame, FrameError)) for o in out) and decoder.pending == 0
