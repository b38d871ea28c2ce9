"""Property tests and a fixed-budget fuzz for the HJ 212 rules of issue 16 items 8 and 12
(derandomised: the same examples every run)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.protocols.hj212 import (
    CST,
    DecodeError,
    Packet,
    StreamDecoder,
    build_history_request,
    decode_packet,
    encode_packet,
)
from edge.protocols.hj212._segment import parse_segment

from .test_hj212_properties import packets

BUDGET = settings(max_examples=300, deadline=None, derandomize=True,
                  suppress_health_check=[HealthCheck.too_slow])
FUZZ = settings(BUDGET, max_examples=1500)
# What HJ 212 writes as a number, restated from the standard's examples: ASCII digits, an
# optional sign, decimal point and exponent.
ASCII_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
times = st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31)).map(
    lambda t: t.replace(microsecond=0, tzinfo=CST))


def _with_factors(packet: Packet) -> bool:
    return any(f.values or f.flag for f in packet.factors.values())


@BUDGET
@given(packets().filter(_with_factors), st.data())
def test_repeating_a_factor_item_identically_is_counted(packet: Packet, data) -> None:
    raw = encode_packet(packet).decode()
    segment = raw[6:raw.rindex("&&") + 2]
    item = data.draw(st.sampled_from([i for i in re.split("[;,]", segment[segment.index(
        "CP=&&") + 5:-2]) if i and "-" in i.split("=")[0]]))
    doubled = segment[:-2] + ";" + item + "&&"
    decoded = parse_segment(doubled)
    assert decoded == packet and decoded.duplicates == 1


@BUDGET
@given(packets().filter(lambda p: any(f.values for f in p.factors.values())),
       st.integers(1, 10**6))
def test_repeating_a_value_with_another_one_is_refused(packet: Packet, bump: int) -> None:
    code, factor = next((c, f) for c, f in packet.factors.items() if f.values)
    name, value = next(iter(factor.values.items()))
    segment = encode_packet(packet).decode()
    segment = segment[6:segment.rindex("&&") + 2]
    other = repr(float(value + bump))
    try:
        parse_segment(segment[:-2] + f";{code}-{name}={other}&&")
    except DecodeError as exc:
        assert (exc.reason, exc.field) == ("bad_field", f"{code}-{name}")
    else:
        assert float(other) == value  # only when the bump is lost to rounding


@BUDGET
@given(st.text(max_size=12))
def test_a_number_is_accepted_only_in_ascii_decimal_form(text: str) -> None:
    segment = ("QN=1;ST=22;CN=2011;PW=1;MN=M;Flag=4;CP=&&DataTime=20240105100000;"
               f"a34004-Rtd={text}&&")
    if set(text) & set(";,=&") or not text:
        return  # separators / empty value are other rules
    try:
        value = parse_segment(segment).factors["a34004"].rtd
    except DecodeError as exc:
        assert exc.field == "a34004-Rtd"
        assert ASCII_NUMBER.fullmatch(text) is None or abs(float(text)) == float("inf")
    else:
        assert ASCII_NUMBER.fullmatch(text) is not None and value == float(text)


@BUDGET
@given(st.text(alphabet="ABCDEF0123456789_", min_size=1, max_size=40))
def test_mn_longer_than_24_refused(mn: str) -> None:
    segment = f"QN=1;ST=22;CN=2011;PW=1;MN={mn};Flag=4;CP=&&&&"
    try:
        assert parse_segment(segment).mn == mn and len(mn) <= 24
    except DecodeError as exc:
        assert len(mn) > 24 and exc.field == "MN"


@BUDGET
@given(st.sampled_from(["2031", "2041", "2051", "2061"]), times,
       st.integers(0, 400 * 86400), times)
def test_history_request_round_trip(cn: str, begin: datetime, span: int, sent: datetime) -> None:
    end = begin + timedelta(seconds=span)
    if end.year > 9999:
        return
    packet = build_history_request(cn, "M1", begin, end, qn=sent)
    back = decode_packet(encode_packet(packet))
    assert back == packet and (back.begin_time, back.end_time) == (begin, end)
    assert not back.is_upload


# --- fuzz: the segment parser and the stream never fail other than by DecodeError ----------

PIECES = ["QN=", "ST=22", "CN=2011", "CN=2061", "CN=9015", "PW=1", "MN=M1", "Flag=5", "Flag=9",
          "PNUM=2", "PNO=1", "CP=&&", "&&", "&", ";", ",", "=", "-", "DataTime=20240105100000",
          "BeginTime=20240105100000", "EndTime=20240105000000", "SystemTime=2024",
          "a34004-Rtd=", "a34004-Flag=", "a34004-Avg=", "5", "500", "1_000", "\uff17", ".", "e9",
          "N", "n", "\u0667", " ", "A" * 25]
segments = st.lists(st.sampled_from(PIECES) | st.text(max_size=4), max_size=30).map("".join)


@FUZZ
@given(segments)
def test_fuzz_segment_parser_raises_only_decode_errors(segment: str) -> None:
    try:
        parse_segment(segment)
    except DecodeError:
        pass


@FUZZ
@given(st.lists(segments, max_size=4))
def test_fuzz_framed_segments_through_the_stream(parts: list[str]) -> None:
    from .test_hj212_vectors import hand_crc
    data = b"".join(b"##%04d%s%04X\r\n" % (len(p.encode()), p.encode(), hand_crc(p.encode()))
                    for p in parts if len(p.encode()) <= 9999)
    decoder = StreamDecoder()
    out = decoder.feed(data) + decoder.close()
    assert all(isinstance(o, (Packet, DecodeError)) for o in out)
    assert "internal_error" not in decoder.stats.errors
