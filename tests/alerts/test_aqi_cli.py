"""`fenwei aqi calc` through typer's CliRunner."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from core.aqi.cli import app

runner = CliRunner()
KEYS = {"aqi", "iaqi", "category", "level", "colour", "primary", "exceeding", "edition",
        "aqi_lower_bound", "missing"}
ALL = ["pm25=75", "pm10=50", "so2=10", "no2=20", "co=0.5", "o3=60"]


def _json(args):
    result = runner.invoke(app, ["calc", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("at", "edition", "aqi"),
    [
        ("2026-02-28T16:00:00Z", "2026", 114),        # 100 + 50*15/55 = 113.6
        ("2026-02-28T15:59:59Z", "2012", 100),
        ("2026-03-01T00:00:00", "2026", 114),         # no offset = CST
        ("2026-02-28T23:00:00+08:00", "2012", 100),
    ],
)
def test_daily_json_edition_switch(at, edition, aqi):
    out = _json([*ALL, "--at", at, "--period", "daily"])
    assert set(out) == KEYS
    assert (out["edition"], out["aqi"], out["iaqi"]["pm25"]) == (edition, aqi, aqi)
    assert out["primary"] == ["pm25"]


def test_daily_json_full_payload():
    out = _json(["pm25=156", "pm10=50", "so2=10", "no2=20", "co=0.5", "o3_8h=200",
                 "--at", "2025-12-01", "--period", "daily"])
    assert out == {
        "aqi": 206,
        # pm25 200+100*6/100; pm10 50; so2 50*10/50; no2 50*20/40; co 50*0.5/2 = 12.5;
        # o3_8h 100 + 50*40/55 = 136.4
        "iaqi": {"pm25": 206, "pm10": 50, "so2": 10, "no2": 25, "co": 13, "o3_8h": 137},
        "category": "重度污染",
        "level": 5,
        "colour": "#99004C",
        "primary": ["pm25"],
        "exceeding": ["pm25", "o3_8h"],
        "edition": "2012",
        "aqi_lower_bound": 206,   # nothing missing: the bound is the AQI itself
        "missing": [],
    }


def test_hourly_o3_is_1h_and_o3_8h_optional():
    out = _json(["pm25=20", "o3=185", "o3_8h=130", "--at", "2025-07-01T14:00:00+08:00"])
    # pm25 29; o3 1 h 50 + 50*25/40 = 81.25 -> 82; o3_8h 50 + 50*30/60 = 75
    assert out["iaqi"] == {"pm25": 29, "o3": 82, "o3_8h": 75}
    assert out["aqi"] == 82 and out["primary"] == ["o3"]


def test_human_output_lists_everything():
    result = runner.invoke(app, ["calc", *ALL, "--at", "2026-04-01T08:00:00+08:00"])
    assert result.exit_code == 0, result.output
    for text in ("2026", "pm25", "114", "III", "轻度污染", "#FF7E00", "orange", "primary"):
        assert text in result.stdout


def test_unresolved_so2_is_null_with_note_on_stderr():
    result = runner.invoke(app, ["calc", "so2=900", "pm25=20", "--at", "2025-01-01", "--json"])
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    assert out["aqi"] is None and out["iaqi"]["so2"] is None
    assert "so2_24h" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["pm25=abc", "--at", "2025-01-01"],
        ["pm25", "--at", "2025-01-01"],
        ["pm25=1", "--at", "not-a-time"],
        ["pm25=1", "--at", "2025-01-01", "--period", "weekly"],
        ["bogus=1", "--at", "2025-01-01"],
    ],
)
def test_bad_arguments_fail(args):
    assert runner.invoke(app, ["calc", *args]).exit_code != 0


def test_a_missing_indicator_blanks_the_aqi_but_gives_its_lower_bound():
    out = _json(["pm25=260", "pm10=50", "so2=missing", "no2=20", "co=0.5", "o3=60",
                 "--at", "2025-12-01T08:00:00+08:00"])
    # pm25 on the 24 h rows: 250..350 -> 300..400: 300 + 100*10/100 = 310; so2 has no value
    assert out["aqi"] is None and out["level"] is None
    assert (out["aqi_lower_bound"], out["missing"]) == (310, ["so2"])
    assert out["iaqi"]["so2"] is None and out["iaqi"]["pm25"] == 310
