"""SL 651 platform queries 37 (real-time) and 38 (period), byte by byte after SL 651-2014:
down-link frames put the station first, then the centre; direction nibble 8; serial 0 for
centre-initiated frames; ENQ 05 end char; CRC-16/MODBUS high byte first (local bit loop)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from edge.protocols.sl651 import EncodeError, encode_query_period, encode_query_realtime

from .test_sl651_crc import bitwise_crc

CST = timezone(timedelta(hours=8))
SENT = datetime(2017, 7, 18, 11, 1, 28, tzinfo=CST)


def sealed(hex_text: str) -> bytes:
    frame = bytes.fromhex(hex_text.replace(" ", ""))
    return frame + bitwise_crc(frame).to_bytes(2, "big")


def test_query_realtime_37() -> None:
    # body: serial 0000 + send time 170718110128 = 8 bytes -> length word 80 08
    want = sealed("7E7E 0011223344 05 03E8 37 8008 02 0000 170718110128 05")
    assert encode_query_realtime("0011223344", sent=SENT, centre=5, password=0x03E8) == want


@pytest.mark.parametrize(
    ("element", "ident"),
    [("rain", "F460"), ("stage", "3923"), ("discharge", "272B"), ((0x39, 0x1A), "391A")],
)
def test_query_period_38(element, ident: str) -> None:
    # body: serial 0000, send time, start 17071808, end 17071810 (yyMMddHH), step 04 18
    # 000005 (0 d 0 h 5 min), element id + definition: 2+6+4+4+5+2 = 23 = 0x17 -> 80 17
    want = sealed("7E7E 0011223344 05 03E8 38 8017 02 0000 170718110128 17071808 17071810"
                  f" 0418000005 {ident} 05")
    got = encode_query_period("0011223344", sent=SENT, centre=5, password=0x03E8,
                              begin=datetime(2017, 7, 18, 8, tzinfo=CST),
                              end=datetime(2017, 7, 18, 10, tzinfo=CST),
                              step=timedelta(minutes=5), element=element)
    assert got == want


def test_query_period_converts_utc_to_china_hours() -> None:
    # 00:00 UTC = 08:00 +08:00; a one-hour step is 04 18 000100
    got = encode_query_period("0011223344", sent=SENT, centre=5, password=0x03E8,
                              begin=datetime(2017, 7, 18, 0, tzinfo=timezone.utc),
                              end=datetime(2017, 7, 18, 2, tzinfo=timezone.utc),
                              step=timedelta(hours=1), element="stage")
    assert got == sealed("7E7E 0011223344 05 03E8 38 8017 02 0000 170718110128 17071808"
                         " 17071810 0418000100 3923 05")


@pytest.mark.parametrize(
    ("begin", "end", "match"),
    [
        (datetime(2017, 7, 18, 8, 30, tzinfo=CST), datetime(2017, 7, 18, 10, tzinfo=CST),
         "whole hour"),
        (datetime(2017, 7, 18, 10, tzinfo=CST), datetime(2017, 7, 18, 8, tzinfo=CST), "after"),
    ],
)
def test_query_period_refuses(begin, end, match) -> None:
    with pytest.raises(EncodeError, match=match):
        encode_query_period("0011223344", sent=SENT, begin=begin, end=end,
                            step=timedelta(hours=1), element="stage")
