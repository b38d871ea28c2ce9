"""``fenwei warnings grade`` on hourly CSV files: the hand-worked table of issue 16 item 1.

Fixtures: tests/data/warnings/ (written by make_csv.py; its docstring describes each file).
Every file starts 2026-01-10 00:00 CST and ``--issued`` defaults to that first hour, so
``lead_h`` equals the onset's hour offset from the file start.

Pollutant files ``p-<B>h-<C>``: PM2.5 at C µg/m³ for B hours from hour s = 24, 20 µg/m³
otherwise, every other pollutant at 20 µg/m³ (CO 0.02 mg/m³; IAQI 20/50*... all below 50).
The 24 h window starting at hour w overlaps the block by o hours and has the PM2.5 mean
(C * o + 20 * (24 - o)) / 24. HJ 633 PM2.5 24 h breakpoints 115/150/250 (IAQI 150/200/300):

* C = 200 (IAQI 200 + 100/100 * 50 = 250): mean 20 + 7.5 o.
  AQI > 200 <=> mean > 150 <=> o > 17.3 <=> o >= 18;  AQI > 150 <=> mean > 115 <=> o >= 13.
  B = 24: o = 24 - |w - s|, so > 200 for w = s-6 .. s+6 (13 windows), > 150 for 23 windows.
  B = 48: o = 24 for w = s .. s+24, so > 200 for w = s-6 .. s+30 (37), > 150 for 47.
* C = 130 (IAQI ceil(150 + 50/35 * 15) = ceil(171.4) = 172): mean 20 + 110 o / 24.
  AQI > 150 <=> o > 20.7 <=> o >= 21; never > 200.
  B = 48: w = s-3 .. s+27 (31 windows); B = 30: w = s-3 .. s+9 (13); B = 29: 12.
* C = 151 (IAQI 201), B = 24: only the aligned window (o = 24) has mean 151 > 150; the next
  (o = 23) has (23*151 + 20)/24 = 145.5 <= 150.  AQI > 150 <=> 20 + 131 o/24 > 115 <=> o >= 18:
  13 windows.  B = 23: at most o = 23 (mean 145.5, AQI 194): nothing > 200; > 150: 12 windows.
* C = 150 (IAQI 200), B = 24: no window above 200 (200 is not > 200); > 150 for 13 windows.

Window ends needed (k consecutive windows cover k + 23 hours): 24 h -> 1, 36 h -> 13,
48 h -> 25, 72 h -> 49, 96 h -> 73.  Onset = start of the first qualifying window,
end = end of the last (exclusive).

AQI files ``a-<v>x<n>``: the aqi column is the 24 h-window AQI per window end; 24 rows of 60,
then the runs: the first run's first window ends with hour 24 and starts at hour 1.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alerts.warnings.cli import app

DATA = Path(__file__).resolve().parents[2] / "data" / "warnings"
A200_24, A200_48, A150_48 = "AQI > 200 for ≥ 24 h", "AQI > 200 for ≥ 48 h", "AQI > 150 for ≥ 48 h"
A150_72, A150_36 = "AQI > 150 for ≥ 72 h", "AQI > 150 for ≥ 36 h"
RED_2024 = "AQI > 200 for ≥ 72 h and AQI > 300 for ≥ 24 h"
RED_2019 = "AQI > 200 for ≥ 96 h and AQI > 300 for ≥ 48 h"


def _cst(hour: int) -> str:
    """2026-01-10 00:00 CST + hour, as the command prints it."""
    from datetime import datetime, timedelta, timezone
    t = datetime(2026, 1, 10, tzinfo=timezone(timedelta(hours=8))) + timedelta(hours=hour)
    return t.isoformat()


def grade(name: str, *args: str) -> dict:
    res = CliRunner().invoke(app, ["grade", "--hourly", str(DATA / name), *args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


# (file, grading, city, level, criterion, onset hour, end hour)  s = 24
ITEM1 = [
    # the four cases of issue 16 item 1
    ("p-24h-200.csv", "2024", "", "yellow", A200_24, 24 - 6, 24 + 6 + 24),
    ("p-48h-200.csv", "2024", "", "orange", A200_48, 24 - 6, 24 + 30 + 24),   # 37 >= 25; 47 < 49
    ("p-48h-130.csv", "2024", "", "yellow", A150_48, 24 - 3, 24 + 27 + 24),   # 31 >= 25
    ("p-48h-200.csv", "2019", "", "yellow", A200_48, 24 - 6, 24 + 30 + 24),   # 37 < 49
    # 200/201 at 24 h
    ("p-24h-151.csv", "2024", "", "yellow", A200_24, 24, 48),                 # one window 201
    ("p-24h-150.csv", "2024", "", "none", None, None, None),                  # 200; 13 < 25
    ("p-23h-151.csv", "2024", "", "none", None, None, None),                  # max 194; 12 < 25
    # city triggers (Xi'an orange > 150 for 48 h; Baoji yellow > 150 for 36 h)
    ("p-48h-130.csv", "2024", "xian", "orange", A150_48, 21, 75),             # 31 >= 25
    ("p-48h-130.csv", "2024", "xianyang", "yellow", A150_48, 21, 75),         # no trigger
    ("p-30h-130.csv", "2024", "baoji", "yellow", A150_36, 21, 24 + 9 + 24),   # 13 >= 13
    ("p-29h-130.csv", "2024", "baoji", "none", None, None, None),             # 12 < 13
    ("p-30h-130.csv", "2024", "xianyang", "none", None, None, None),          # 13 < 25
]


@pytest.mark.parametrize("name,grading,city,lvl,crit,onset,end", ITEM1,
                         ids=[f"{c[0][:-4]}-{c[1]}{'-' + c[2] if c[2] else ''}" for c in ITEM1])
def test_item1_table_from_pollutant_csv(name, grading, city, lvl, crit, onset, end):
    out = grade(name, "--grading", grading, *(["--city", city] if city else []))
    assert (out["level"], out["criteria"]) == (lvl, crit)
    assert out["onset"] == (_cst(onset) if onset is not None else None)
    assert out["end"] == (_cst(end) if end is not None else None)
    assert out["lead_h"] == (float(onset) if onset is not None else None)
    assert out["city"] == (city or None) and out["missing_pollutants"] == []


# every duration threshold of both gradings (gradings.toml, checked against DOMAIN.md
# section 4), in window ends k = H - 23 of the aqi column
DURATIONS = [
    ("a-201x1.csv", "2024", "yellow", A200_24),       # > 200 for 24 h: k = 1
    ("a-200x1.csv", "2024", "none", None),            # 200 is not > 200
    ("a-151x25.csv", "2024", "yellow", A150_48),      # > 150 for 48 h: k = 25
    ("a-151x24.csv", "2024", "none", None),           # 47 h
    ("a-201x25.csv", "2024", "orange", A200_48),      # > 200 for 48 h: k = 25
    ("a-201x24.csv", "2024", "yellow", A200_24),      # 47 h
    ("a-151x49.csv", "2024", "orange", A150_72),      # > 150 for 72 h: k = 49
    ("a-151x48.csv", "2024", "yellow", A150_48),      # 71 h
    ("a-301x1-201x48.csv", "2024", "red", RED_2024),  # 49 > 200 and 1 > 300
    ("a-301x1-201x47.csv", "2024", "orange", A200_48),  # 48 > 200 = 71 h
    ("a-300x1-201x48.csv", "2024", "orange", A200_48),  # 300 is not > 300
    ("a-201x25.csv", "2019", "yellow", A200_48),      # > 200 for 48 h: k = 25
    ("a-201x24.csv", "2019", "none", None),
    ("a-201x49.csv", "2019", "orange", "AQI > 200 for ≥ 72 h"),   # k = 49
    ("a-201x48.csv", "2019", "yellow", A200_48),
    ("a-301x25-201x48.csv", "2019", "red", RED_2019),  # 73 > 200 (96 h), 25 > 300 (48 h)
    ("a-301x24-201x49.csv", "2019", "orange", "AQI > 200 for ≥ 72 h"),  # 47 h > 300
    ("a-301x25-201x47.csv", "2019", "orange", "AQI > 200 for ≥ 72 h"),  # 72 ends = 95 h
    ("a-500x1.csv", "2019", "red", "AQI > 499 for ≥ 1 h"),   # AQI reaching 500
    ("a-499x1.csv", "2019", "none", None),
]


@pytest.mark.parametrize("name,grading,lvl,crit", DURATIONS,
                         ids=[f"{c[0][:-4]}-{c[1]}" for c in DURATIONS])
def test_every_duration_threshold_from_aqi_csv(name, grading, lvl, crit):
    out = grade(name, "--grading", grading)
    assert (out["level"], out["criteria"]) == (lvl, crit)
    if lvl != "none":                        # first window ends with hour 24, starts at 1
        assert out["onset"] == _cst(1) and out["lead_h"] == 1.0


@pytest.mark.parametrize("name,city,lvl", [
    ("a-151x13.csv", "baoji", "yellow"), ("a-151x12.csv", "baoji", "none"),
    ("a-151x13.csv", "yangling", "yellow"), ("a-151x13.csv", "xianyang", "none"),
    ("a-151x25.csv", "xian", "orange"), ("a-151x24.csv", "xian", "none"),
])
def test_city_triggers_from_aqi_csv(name, city, lvl):
    assert grade(name, "--city", city)["level"] == lvl


def test_default_grading_is_2024_and_issued_moves_the_lead():
    out = grade("p-24h-200.csv", "--issued", "2026-01-10T12:00")
    assert out["grading"] == "hdq-2024-6" and out["level"] == "yellow"
    assert out["lead_h"] == 6.0                  # onset 18:00 CST, issued 12:00 CST
    out = grade("p-24h-200.csv", "--issued", "2026-01-10T12:00+00:00")     # 20:00 CST
    assert out["lead_h"] == -2.0


def test_missing_pollutants_grade_at_their_lower_bound(tmp_path):
    """Only PM2.5: each window's AQI is at least its PM2.5 IAQI (DOMAIN.md section 3)."""
    src = (DATA / "p-24h-200.csv").read_text().splitlines()
    f = tmp_path / "pm25-only.csv"
    f.write_text("\n".join(",".join(line.split(",")[:2]) for line in src) + "\n")
    out = grade(str(f))
    assert (out["level"], out["onset"]) == ("yellow", _cst(18))
    assert out["missing_pollutants"] == ["pm10", "so2", "no2", "co", "o3"]
    assert out["windows"]["lower_bound"] == out["windows"]["count"] == 96 - 23


@pytest.mark.parametrize("name,args,words", [
    ("bad/no-time.csv", [], "missing column 'time'"),
    ("bad/no-values.csv", [], "missing column 'aqi' or pollutant columns"),
    ("bad/half-hourly.csv", [], "not on the hour"),
    ("bad/gap.csv", [], "consecutive hours"),
    ("bad/bad-time.csv", [], "row 3: time 'yesterday noon' is not a date-time"),
    ("bad/bad-number.csv", [], "row 3: aqi 'high' is not a number"),
    ("bad/short.csv", [], "at least 24 hours"),
    ("a-201x1.csv", ["--grading", "2018"], "unknown grading"),
    ("a-201x1.csv", ["--city", "atlantis"], "unknown city"),
    ("a-201x1.csv", ["--issued", "soon"], "--issued 'soon'"),
    ("missing.csv", [], "missing.csv"),
])
def test_bad_input_is_a_clear_error(name, args, words):
    res = CliRunner().invoke(app, ["grade", "--hourly", str(DATA / name), *args, "--json"])
    assert res.exit_code == 2
    assert words in res.stderr and res.stdout == ""


def test_installed_command(tmp_path):
    """The ``fenwei warnings grade`` entry point, as a forecaster runs it."""
    exe = Path(sys.executable).with_name("fenwei")
    if not exe.exists():
        pytest.skip("fenwei entry point not installed in this environment")
    res = subprocess.run([str(exe), "warnings", "grade", "--hourly",
                          str(DATA / "p-48h-200.csv"), "--json"], capture_output=True,
                         text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"})
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert (out["level"], out["criteria"], out["lead_h"]) == ("orange", A200_48, 18.0)
