"""Issue 16 item 7: HJ 212 data flags as DOMAIN.md section 5 defines them.

N counts; T (above the instrument's upper limit) counts as a lower bound and is marked;
F M S D C B are invalid. Flags are upper case on the wire and normalised once at decode.
"""
from __future__ import annotations

import math
from datetime import datetime, timezone

import pandas as pd
import pytest

from core.aqi import daily_aqi, hourly_aqi
from core.flags import FLAGS, is_lower_bound, is_valid, normalise

# DOMAIN.md section 5, letter by letter: (counts toward means/AQI, counts only as a bound)
DOMAIN = {"N": (True, False), "T": (True, True), "F": (False, False), "M": (False, False),
          "S": (False, False), "D": (False, False), "C": (False, False), "B": (False, False)}


def test_the_eight_letters_of_the_standard():
    assert set(FLAGS) == set(DOMAIN)


@pytest.mark.parametrize("flag", sorted(DOMAIN))
def test_what_each_flag_counts_for(flag):
    assert (is_valid(flag), is_lower_bound(flag)) == DOMAIN[flag]


@pytest.mark.parametrize("flag", sorted(DOMAIN))
def test_lower_case_is_the_same_flag_once_normalised(flag):
    low = normalise(flag.lower())
    assert low == flag
    assert (is_valid(low), is_lower_bound(low)) == DOMAIN[flag]


@pytest.mark.parametrize(("raw", "want"), [
    (None, None), ("", None), ("  ", None), (" t ", "T"), ("n", "N"), ("x", "X"),
])
def test_normalise_edge_cases(raw, want):
    assert normalise(raw) == want


def test_no_flag_means_normal():
    assert is_valid(None) and not is_lower_bound(None)


T0 = datetime(2026, 1, 10, 0, tzinfo=timezone.utc)   # 08:00 CST; HJ 633-2012 in force


def _hour(**kw):
    return {"station": "S1", "ts": pd.Timestamp(T0), "pm25": 60.0, "pm10": 50.0, "so2": 10.0,
            "no2": 20.0, "co": 0.5, "o3": 60.0, **kw}


@pytest.mark.parametrize(("flag", "aqi", "above"), [
    # pm25 260 on the 24 h rows: 300 + 100*10/100 = 310 whenever it counts
    ("T", 310.0, "pm25"), ("t", 310.0, "pm25"), ("N", 310.0, ""), ("n", 310.0, ""),
    ("D", math.nan, ""), ("d", math.nan, ""), ("C", math.nan, ""), ("B", math.nan, ""),
])
def test_hourly_aqi_counts_n_and_t_and_marks_t(flag, aqi, above):
    row = hourly_aqi(pd.DataFrame([_hour(pm25=260.0, pm25_flag=flag)])).iloc[0]
    assert (row["aqi"] == aqi) or (math.isnan(aqi) and math.isnan(row["aqi"]))
    assert row["above_range"] == above


def test_daily_mean_with_a_t_hour_is_marked():
    # 24 hours of pm25 100 with hour 5 flagged T at 100: the mean (100) counts, marked
    rows = [_hour(ts=pd.Timestamp(T0) + pd.Timedelta(hours=h) - pd.Timedelta(hours=8),
                  pm25=100.0, pm25_flag="T" if h == 5 else "N") for h in range(24)]
    day = daily_aqi(pd.DataFrame(rows)).iloc[0]
    # pm25 24 h 100: 100 + 50*25/40 = 131.25 -> 132
    assert day["iaqi_pm25"] == 132 and day["above_range"] == "pm25"
