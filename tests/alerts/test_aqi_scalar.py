"""calculate(): AQI, special cases, primary/exceeding pollutants, categories."""
from __future__ import annotations

import pytest

from core.aqi import InputError, calculate, category_of

OLD = "2025-12-01T10:00:00+08:00"
NEW = "2026-04-01T10:00:00+08:00"


@pytest.mark.parametrize(
    ("conc", "at", "want"),
    [
        pytest.param({"pm25": 156}, OLD, 206, id="pm25-156-2012"),   # 200 + 100*6/100
        pytest.param({"pm25": 156}, NEW, 206, id="pm25-156-2026"),
        pytest.param({"pm25": 75}, OLD, 100, id="pm25-75-2012"),     # breakpoint
        pytest.param({"pm25": 75}, NEW, 114, id="pm25-75-2026"),     # 100 + 50*15/55 = 113.6
    ],
)
def test_domain_worked_values(conc, at, want):
    assert calculate(conc, at, "daily").aqi == want


def test_daily_aqi_is_max_iaqi_with_o3_as_8h():
    r = calculate(
        {"pm25": 55, "pm10": 120, "so2": 27.3, "no2": 30, "co": 1.3, "o3": 200}, OLD, "daily"
    )
    # pm25 75 (50+50*20/40), pm10 85 (50+50*70/100), so2 28, no2 38, co 33,
    # o3_8h 137 (100 + 50*40/55 = 136.4)
    assert r.iaqi == {"pm25": 75, "pm10": 85, "so2": 28, "no2": 38, "co": 33, "o3_8h": 137}
    assert (r.aqi, r.primary, r.exceeding) == (137, ("o3_8h",), ("o3_8h",))
    assert (r.category.level, r.category.zh, r.category.colour) == (3, "轻度污染", "#FF7E00")


def test_hourly_uses_1h_rows_and_pm_on_24h_rows():
    r = calculate({"pm25": 20, "so2": 333, "no2": 333, "co": 7.7, "o3": 185}, OLD, "hourly")
    # pm25 29 (24 h row), so2 77, no2 114, co 77, o3 82 (all 1 h rows)
    assert r.iaqi == {"pm25": 29, "so2": 77, "no2": 114, "co": 77, "o3": 82}
    assert r.aqi == 114 and r.primary == ("no2",)


def test_ties_give_several_primary_pollutants():
    # 2012: pm25 75 -> 100, pm10 150 -> 100, no2 80 (24 h) -> 100
    r = calculate({"pm25": 75, "pm10": 150, "no2": 80, "so2": 10}, OLD, "daily")
    assert r.aqi == 100
    assert r.primary == ("pm25", "pm10", "no2")
    assert r.exceeding == ()


def test_no_primary_pollutant_at_or_below_50():
    r = calculate({"pm25": 35, "pm10": 50}, OLD, "daily")  # both exactly 50
    assert r.aqi == 50 and r.primary == () and r.category.zh == "优"


def test_exceeding_is_every_iaqi_above_100():
    # pm25 100 -> 132, pm10 200.2 -> 126, no2 80 -> 100 (not exceeding)
    r = calculate({"pm25": 100, "pm10": 200.2, "no2": 80}, OLD, "daily")
    assert r.primary == ("pm25",) and r.exceeding == ("pm25", "pm10")


def test_so2_1h_above_800_uses_24h_value():
    # so2 24 h 300 -> 100 + 50*150/325 = 123.08 -> 124
    r = calculate({"so2": 850, "so2_24h": 300, "pm25": 20}, OLD, "hourly")
    assert r.iaqi["so2"] == 124 and r.aqi == 124 and not r.notes


def test_so2_1h_above_800_without_24h_is_reported_not_graded():
    r = calculate({"so2": 850, "pm25": 20}, OLD, "hourly")
    assert r.iaqi["so2"] is None and r.aqi is None and r.category is None
    assert "so2_24h" in r.notes[0]


def test_so2_1h_at_800_is_graded_on_1h_row():
    assert calculate({"so2": 800, "so2_24h": 10}, OLD).iaqi["so2"] == 200


def test_o3_8h_above_800_uses_1h_value_daily():
    # o3 1 h 900 -> 300 + 100*100/200 = 350
    r = calculate({"o3": 850, "o3_1h": 900}, NEW, "daily")
    assert r.iaqi == {"o3_8h": 350} and r.aqi == 350 and r.category.roman == "VI"


def test_o3_8h_above_800_without_1h_is_reported():
    r = calculate({"o3_8h": 850, "pm25": 20}, NEW, "daily")
    assert r.aqi is None and r.iaqi["o3_8h"] is None and r.notes


def test_hourly_optional_o3_8h_uses_o3_1h_above_800():
    r = calculate({"o3": 1111, "o3_8h": 801}, NEW, "hourly")
    # both graded from o3 1 h 1111 -> 400 + 100*111/200 = 455.5 -> 456
    assert r.iaqi == {"o3": 456, "o3_8h": 456} and r.primary == ("o3", "o3_8h")


@pytest.mark.parametrize(
    ("aqi", "level", "roman", "zh", "colour", "colour_name"),
    [
        (0, 1, "I", "优", "#00E400", "green"),
        (50, 1, "I", "优", "#00E400", "green"),
        (51, 2, "II", "良", "#FFFF00", "yellow"),
        (100, 2, "II", "良", "#FFFF00", "yellow"),
        (101, 3, "III", "轻度污染", "#FF7E00", "orange"),
        (150, 3, "III", "轻度污染", "#FF7E00", "orange"),
        (151, 4, "IV", "中度污染", "#FF0000", "red"),
        (200, 4, "IV", "中度污染", "#FF0000", "red"),
        (201, 5, "V", "重度污染", "#99004C", "purple"),
        (300, 5, "V", "重度污染", "#99004C", "purple"),
        (301, 6, "VI", "严重污染", "#7E0023", "maroon"),
        (500, 6, "VI", "严重污染", "#7E0023", "maroon"),
    ],
)
def test_categories(aqi, level, roman, zh, colour, colour_name):
    c = category_of(aqi)
    assert (c.level, c.roman, c.zh, c.colour, c.colour_name) == (level, roman, zh, colour, colour_name)
    assert c.en


def test_category_of_nan_is_none():
    assert category_of(float("nan")) is None


@pytest.mark.parametrize(
    ("conc", "period"),
    [
        ({"pm25": -1}, "daily"),
        ({"pm25": float("nan")}, "daily"),
        ({"xyz": 1}, "daily"),
        ({"so2_24h": 1}, "daily"),
        ({}, "hourly"),
        ({"o3": 1, "o3_8h": 2}, "daily"),
        ({"pm25": 1}, "weekly"),
    ],
)
def test_bad_input_raises(conc, period):
    with pytest.raises(InputError):
        calculate(conc, OLD, period)


def test_bad_time_raises():
    with pytest.raises(InputError):
        calculate({"pm25": 1}, "yesterday")
