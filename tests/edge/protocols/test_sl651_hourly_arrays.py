"""SL 651 34 hourly reports: the 5-minute arrays (F4 rain, F5..FC relative stage) become
observations (issue 16 item 11), worked by hand from the published hourly-report vector."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from edge.protocols.sl651 import build_frame, decode_frame, observations

from .test_sl651_vectors import _by_crc

CST = timezone(timedelta(hours=8))


def t(hour: int, minute: int) -> datetime:
    return datetime(2017, 7, 18, hour, minute, tzinfo=CST)


def by_name(obs: list[dict], name: str) -> dict[tuple[datetime, str], object]:
    """(ts, period) -> value, or "D" when flagged invalid."""
    out = {}
    for group in obs:
        if name in group["values"]:
            out[(group["ts"], group["period"])] = group["values"][name]
        elif name in group["flags"]:
            out[(group["ts"], group["period"])] = group["flags"][name]
    return out


# The vector's body (after serial 0033 and send time 17-07-18 11:00:14):
#   F1F1 0011223344 48             station, river
#   F0F0 1707181005                observation time 10:05 (the first 5-minute point)
#   F4 60  05 00 00 00 14 FF FF FF FF FF 00 00     12 x 1 byte, tenths of mm (60 >> 3 = 12)
#   F0F0 1707181100  2619 000040                   cumulative rain at 11:00
#   F0F0 1707181005
#   F5 C0  000C 000C 001C 0031 0031 FFFF x5 0031 0031   12 x 2 bytes, cm (C0 >> 3 = 24)
#   F0F0 1707181100  3923 00010490 (10.490 m)  2019 000040  3812 1099 (10.99 V)
HOURLY = decode_frame(_by_crc("F502"))

# rain in the 5 minutes up to 10:05 + 5k (k = 0..11): 0x05 = 5 tenths = 0.5 mm, 0x14 = 20
# tenths = 2.0 mm, FF invalid; the PT5M total is stamped with the start of its 5 minutes.
RAIN = {t(10, 0): 0.5, t(10, 5): 0.0, t(10, 10): 0.0, t(10, 15): 0.0, t(10, 20): 2.0,
        t(10, 25): "D", t(10, 30): "D", t(10, 35): "D", t(10, 40): "D", t(10, 45): "D",
        t(10, 50): 0.0, t(10, 55): 0.0}
# relative stage sampled at 10:05 + 5k: 0x000C = 12 cm, 0x001C = 28 cm, 0x0031 = 49 cm
REL = {t(10, 5): 0.12, t(10, 10): 0.12, t(10, 15): 0.28, t(10, 20): 0.49, t(10, 25): 0.49,
       t(10, 30): "D", t(10, 35): "D", t(10, 40): "D", t(10, 45): "D", t(10, 50): "D",
       t(10, 55): 0.49, t(11, 0): 0.49}


def test_rain_array_gives_twelve_pt5m_totals() -> None:
    assert by_name(observations(HOURLY), "rain") == {(ts, "PT5M"): v for ts, v in RAIN.items()}


def test_relative_stage_array_gives_twelve_samples() -> None:
    assert by_name(observations(HOURLY), "stage_relative") == {
        (ts, "PT0S"): v for ts, v in REL.items()}


def test_with_the_base_level_the_samples_are_stage() -> None:
    # base 10.00 m: 10.00 + 0.49 = 10.49 at 11:00, the same as the report's own 39 23 element
    stage = by_name(observations(HOURLY, stage_base=10.0), "stage")
    want = {(ts, "PT0S"): (v if v == "D" else round(10.0 + v, 2)) for ts, v in REL.items()}
    assert stage == want and stage[(t(11, 0), "PT0S")] == 10.49


def test_hourly_elements_keep_their_time() -> None:
    [last] = [g for g in observations(HOURLY) if g["ts"] == t(11, 0)]
    assert last["values"]["voltage"] == 10.99 and last["period"] == "PT0S"


STATION = "0011223344"


def hourly_frame(obs_time: bytes, arrays: bytes) -> bytes:
    body = bytes.fromhex("0001" "170718110014" "F1F1" + STATION + "48") + b"\xf0\xf0" + obs_time
    return build_frame(up=True, centre=5, station=STATION, password=0x03E8, function=0x34,
                       body=body + arrays, end=0x03)


@pytest.mark.parametrize(
    ("ident", "name"),
    [(0xF6, "stage_relative_2"), (0xFC, "stage_relative_8")],
)
def test_other_relative_stages_keep_their_number(ident: int, name: str) -> None:
    # 0x0100 = 256 cm = 2.56 m, twelve times; observation time 2017-07-18 10:05
    raw = hourly_frame(bytes.fromhex("1707181005"), bytes([ident, 0xC0]) + b"\x01\x00" * 12)
    got = by_name(observations(decode_frame(raw)), name)
    assert got == {(t(10, 5) + timedelta(minutes=5 * k), "PT0S"): 2.56 for k in range(12)}


def test_rain_across_midnight() -> None:
    # observation time 2017-07-18 00:05: the first total covers 00:00-00:05 of the 18th,
    # the last one 00:55-01:00; a 0xFE byte is 254 tenths = 25.4 mm
    raw = hourly_frame(bytes.fromhex("1707180005"), b"\xf4\x60" + b"\xfe" + b"\x00" * 11)
    rain = by_name(observations(decode_frame(raw)), "rain")
    assert rain[(t(0, 0), "PT5M")] == 25.4 and (t(0, 55), "PT5M") in rain and len(rain) == 12
