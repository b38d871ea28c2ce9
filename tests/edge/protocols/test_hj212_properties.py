"""Property tests for the HJ 212 codec (fixed budget, derandomised: same examples every run)."""

from __future__ import annotations

from datetime import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.protocols.hj212 import (
    CST,
    DecodeError,
    Factor,
    Packet,
    StreamDecoder,
    build_upload,
    decode_packet,
    encode_packet,
)
from edge.protocols.hj212._segment import format_number

BUDGET = settings(max_examples=300, deadline=None, derandomize=True,
                  suppress_health_check=[HealthCheck.too_slow])
SMALL_BUDGET = settings(BUDGET, max_examples=100)
ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"

numbers = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda t: t.replace(microsecond=0, tzinfo=CST))
codes = st.one_of(st.sampled_from(["a34004", "a34002", "a21026", "a01001", "w01018", "011", "B01"]),
                  st.builds("{}{:05d}".format, st.sampled_from("aw"), st.integers(0, 99999)))


@st.composite
def factors(draw, code: str) -> Factor:
    fields = draw(st.lists(st.sampled_from(["Rtd", "Avg", "Min", "Max", "Cou"]), unique=True,
                           max_size=5))
    flag = draw(st.none() | st.sampled_from("NFMSDCTB"))
    extra = draw(st.dictionaries(st.sampled_from(["SampleTime", "EFlag"]),
                                 st.text(ALNUM, min_size=1, max_size=14), max_size=2))
    if not fields and flag is None and not extra:
        flag = "N"
    return Factor(code, {f: draw(numbers) for f in fields}, flag, extra)


@st.composite
def packets(draw) -> Packet:
    cn = draw(st.sampled_from(["2011", "2051", "2061", "2031"]))
    codes_drawn = draw(st.lists(codes, unique=True, max_size=8))
    flag = draw(st.none() | st.sampled_from([0, 1, 4, 5, 8, 9]))
    qn = draw(st.none() | times.map(lambda t: t.strftime("%Y%m%d%H%M%S") + "123"))
    return Packet(
        st=draw(st.sampled_from(["21", "22", "27", "31", "32"])), cn=cn,
        mn=draw(st.text(ALNUM, min_size=1, max_size=24)),
        pw=draw(st.text("0123456789", max_size=6)), qn=qn, flag=flag,
        data_time=draw(times), factors={c: draw(factors(c)) for c in codes_drawn})


@BUDGET
@given(packets())
def test_encode_decode_round_trip(packet: Packet) -> None:
    assert decode_packet(encode_packet(packet)) == packet


@BUDGET
@given(st.floats(allow_nan=False, allow_infinity=False) | st.integers(-10**12, 10**12))
def test_number_text_round_trip(value: float) -> None:
    text = format_number(value)
    assert float(text) == value and "e" not in text.lower()


@SMALL_BUDGET
@given(times, st.dictionaries(codes, numbers.map(lambda x: round(x, 6)), min_size=1, max_size=150),
       st.integers(300, 1024))
def test_split_uploads_fit_and_cover_all_factors(when, values, max_length) -> None:
    parts = build_upload("2061", "M1", when, values, max_length=max_length)
    seen: dict[str, float] = {}
    for part in parts:
        raw = encode_packet(part)
        assert len(raw) - 12 <= max_length
        seen.update({c: f.avg for c, f in decode_packet(raw).factors.items()})
    assert seen == values


def _chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)])]


def _feed(decoder: StreamDecoder, data: bytes, cuts: list[int]) -> list:
    out = []
    for chunk in _chunked(data, cuts):
        out += decoder.feed(chunk)
        assert decoder.buffered <= 4096 + 16
    return out


cut_lists = st.lists(st.integers(0, 10_000), max_size=20)


@SMALL_BUDGET
@given(st.lists(packets(), min_size=1, max_size=3), cut_lists)
def test_stream_decodes_packets_in_any_chunking(items: list[Packet], cuts: list[int]) -> None:
    data = b"".join(encode_packet(p) for p in items)
    decoder = StreamDecoder()
    assert _feed(decoder, data, cuts) + decoder.close() == items


@BUDGET
@given(st.binary(max_size=3000), cut_lists)
def test_stream_never_raises_on_random_bytes(noise: bytes, cuts: list[int]) -> None:
    decoder = StreamDecoder()
    out = _feed(decoder, noise, cuts) + decoder.close()
    assert all(isinstance(o, (Packet, DecodeError)) for o in out)
    assert "internal_error" not in decoder.stats.errors


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(b"".join(encode_packet(p) for p in draw(st.lists(packets(), max_size=3))))
    for _ in range(draw(st.integers(0, 8))):
        if not data:
            break
        at, op = draw(st.integers(0, len(data) - 1)), draw(st.integers(0, 3))
        junk = draw(st.binary(min_size=1, max_size=8) | st.sampled_from([b"#", b"##", b"\r\n", b"&&"]))
        if op == 0:
            data[at] = junk[0]
        elif op == 1:
            data[at:at] = junk
        elif op == 2:
            del data[at : at + len(junk)]
        else:
            del data[at:]
    return bytes(data)


TRICKY = [b"#", b"##", b"###", b"\r\n", b"\r", b"&&", b"##0101", b"##9999", b"##0000", b"CP=&&",
          b"QN=1;ST=22;CN=2011;PW=1;MN=X;Flag=4;", b"&&1C80\r\n", b"\xff\xfe", b"\x00"]
fragments = st.lists(st.sampled_from(TRICKY) | st.binary(max_size=12), max_size=40).map(b"".join)
garbage = mutated() | fragments | st.binary(max_size=1500)


@BUDGET
@given(garbage, cut_lists)
def test_stream_never_raises_on_mutated_packets_and_fragments(noise: bytes, cuts: list[int]) -> None:
    decoder = StreamDecoder(max_length=512)
    out = _feed(decoder, noise, cuts) + decoder.close()
    assert all(isinstance(o, (Packet, DecodeError)) for o in out)
    assert "internal_error" not in decoder.stats.errors
    assert decoder.buffered == 0


SENTINEL = Packet("22", "2011", "SENTINEL", "123456", "20240105100000000", 4,
                  data_time=datetime(2024, 1, 5, 10, tzinfo=CST),
                  factors={"a34004": Factor("a34004", {"Rtd": 1.5}, "N")})


@BUDGET
@given(garbage, cut_lists)
def test_valid_packet_after_garbage_is_found(garbage: bytes, cuts: list[int]) -> None:
    decoder = StreamDecoder()
    out = _feed(decoder, garbage + encode_packet(SENTINEL), cuts)
    assert out and out[-1] == SENTINEL
    assert all(isinstance(o, (Packet, DecodeError)) for o in out)
    assert "internal_error" not in decoder.stats.errors
    assert decoder.buffered == 0
