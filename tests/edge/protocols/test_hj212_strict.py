"""HJ 212 strictness (issue 16 item 12): repeated keys, nested '&&', numbers Python would take
but HJ 212 does not write, and over-long MNs. Each rejection names the field at fault.

Frames are built by hand; CRCs from the test's own bit loop, so a refusal can only come from
the rule under test (the CRC and the length are right).
"""

from __future__ import annotations

import pytest

from edge.protocols.hj212 import DecodeError, StreamDecoder, decode_packet, qn_rtn_for

from .test_hj212_vectors import hand_crc

HEAD = "QN=20240105100000000;ST=22;CN=2011;PW=123456;MN=610100000001;Flag=4;CP=&&"


def framed(segment: str) -> bytes:
    data = segment.encode()
    return b"##%04d%s%04X\r\n" % (len(data), data, hand_crc(data))


def rtd(body: str) -> bytes:
    return framed(HEAD + "DataTime=20240105100000;" + body + "&&")


def refusal(raw: bytes) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode_packet(raw)
    return info.value


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        pytest.param(rtd("a34004-Rtd=5,a34004-Flag=N;a34004-Rtd=500"), "a34004-Rtd",
                     "a34004-Rtd repeated in the CP with different values ('5' then '500')",
                     id="issue-example-5-then-500"),
        pytest.param(rtd("a34004-Rtd=5,a34004-Flag=N,a34004-Flag=D"), "a34004-Flag",
                     "'N' then 'D'", id="flag-twice"),
        pytest.param(rtd("a34004-Rtd=,a34004-Rtd=5"), "a34004-Rtd", "'' then '5'",
                     id="empty-then-value"),
        pytest.param(framed(HEAD + "DataTime=20240105100000;DataTime=20240105110000;"
                            "a34004-Rtd=5&&"), "DataTime", "DataTime repeated", id="datatime"),
        pytest.param(framed(HEAD.replace("CN=2011;", "CN=2011;CN=9014;")
                            + "DataTime=20240105100000;a34004-Rtd=5&&"), "CN",
                     "CN repeated in the header with different values ('2011' then '9014')",
                     id="header-cn-twice"),
        pytest.param(framed(HEAD.replace("MN=610100000001;", "MN=610100000001;MN=6101X;")
                            + "DataTime=20240105100000;a34004-Rtd=5&&"), "MN", "MN repeated",
                     id="header-mn-twice"),
    ],
)
def test_repeated_key_with_another_value_refused(raw: bytes, field: str, words: str) -> None:
    error = refusal(raw)
    assert error.reason == "bad_field" and error.field == field
    assert words in error.detail


def test_identical_repeats_tolerated_and_counted() -> None:
    # two repeats in the CP (Rtd 5 again, "5.0" is the same number) and one in the header (CN)
    raw = framed(HEAD.replace("CN=2011;", "CN=2011;CN=2011;") + "DataTime=20240105100000;"
                 "a34004-Rtd=5,a34004-Flag=N;a34004-Rtd=5.0,a34004-Flag=N&&")
    packet = decode_packet(raw)
    assert packet.factors["a34004"].rtd == 5.0 and packet.factors["a34004"].flag == "N"
    assert packet.duplicates == 3  # CN once, a34004-Rtd once, a34004-Flag once
    decoder = StreamDecoder()
    assert decoder.feed(raw + raw) == [packet, packet]
    assert decoder.stats.duplicate_keys == 6  # 3 per packet, counted for every packet


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        pytest.param(framed(HEAD + "DataTime=20240105100000;a34004-Rtd=5&&a34002-Rtd=7&&"), "CP",
                     id="nested-&&"),
        pytest.param(framed(HEAD + "&&&&"), "CP", id="cp-of-only-&&"),
        pytest.param(rtd("a34004-Rtd=1_000"), "a34004-Rtd", id="underscore-1_000"),
        pytest.param(rtd("a34004-Rtd=\uff17\uff15"), "a34004-Rtd", id="full-width-75"),
        pytest.param(rtd("a34004-Rtd=7\uff15"), "a34004-Rtd", id="half-full-width"),
        pytest.param(rtd("a34004-Rtd=\u0667\u0665"), "a34004-Rtd", id="arabic-indic-75"),
        pytest.param(rtd("a34004-Rtd= 75"), "a34004-Rtd", id="leading-blank"),
        pytest.param(rtd("a34004-Rtd=75 "), "a34004-Rtd", id="trailing-blank"),
        pytest.param(rtd("a34004-Rtd=0x4B"), "a34004-Rtd", id="hex"),
        pytest.param(rtd("a34004-Rtd=inf"), "a34004-Rtd", id="inf"),
        pytest.param(rtd("a34004-Rtd=1e999"), "a34004-Rtd", id="overflows-to-inf"),
        pytest.param(framed(HEAD.replace("MN=610100000001", "MN=" + "A" * 25)
                            + "DataTime=20240105100000;a34004-Rtd=5&&"), "MN", id="mn-25-chars"),
    ],
)
def test_refused_with_field(raw: bytes, field: str) -> None:
    error = refusal(raw)
    assert (error.reason, error.field) == ("bad_field", field)


def test_mn_of_exactly_24_characters_accepted() -> None:
    mn = "010000A8900016F000169DC0"
    assert len(mn) == 24
    raw = framed(HEAD.replace("MN=610100000001", "MN=" + mn) + "DataTime=20240105100000&&")
    assert decode_packet(raw).mn == mn


def test_long_mn_is_answered_bad_mn() -> None:
    error = refusal(framed(HEAD.replace("MN=610100000001", "MN=" + "A" * 25) + "&&"))
    assert qn_rtn_for(error) == 4  # QnRtn 4: bad MN


@pytest.mark.parametrize(
    ("text", "value"),
    [("75", 75.0), ("-3.5", -3.5), ("+2", 2.0), ("0.427", 0.427), (".5", 0.5), ("7.", 7.0),
     ("1.2E-3", 0.0012), ("75600.000", 75600.0)],
)
def test_plain_ascii_numbers_still_accepted(text: str, value: float) -> None:
    assert decode_packet(rtd(f"a34004-Rtd={text}")).factors["a34004"].rtd == value


@pytest.mark.parametrize(("sent", "kept"), [("n", "N"), ("t", "T"), ("d", "D"), ("N", "N"),
                                            ("", None)])
def test_lower_case_flags_normalised_once_at_decode(sent: str, kept: str | None) -> None:
    # DOMAIN.md 5: flags are upper case on the wire; normalise once at decode
    packet = decode_packet(rtd(f"a34004-Rtd=75,a34004-Flag={sent}"))
    assert packet.factors["a34004"].flag == kept


def test_flag_repeated_in_another_case_is_the_same_flag() -> None:
    packet = decode_packet(rtd("a34004-Rtd=75,a34004-Flag=n,a34004-Flag=N"))
    assert packet.factors["a34004"].flag == "N" and packet.duplicates == 1
