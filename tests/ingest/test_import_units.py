"""Unit conversions and the hour convention of `fenwei import`, against values worked by hand,
and the long-format parser under arbitrary text (hypothesis)."""
from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from core.catalogue import load_catalogue
from ingest.importer import (compass_to_deg, hpa_to_kpa, label_to_period_start, name_lookup,
                             rh_from_dewpoint, ug_to_mg)
from ingest.importer._formats import parse_long


@pytest.mark.parametrize("ug,mg", [(1300, 1.3), (100, 0.1), (10000, 10.0), (0, 0.0)],
                         ids=["1300ug", "100ug", "10000ug", "zero"])
def test_co_micrograms_to_milligrams(ug, mg):
    # 1 mg = 1000 µg: 1300 µg/m³ / 1000 = 1.3 mg/m³
    assert ug_to_mg(np.array([ug]))[0] == pytest.approx(mg)


@pytest.mark.parametrize("hpa,kpa", [(1023.2, 102.32), (985.9, 98.59), (1042.0, 104.2)])
def test_pressure_hpa_to_kpa(hpa, kpa):
    # 1 kPa = 10 hPa: 1023.2 hPa / 10 = 102.32 kPa
    assert hpa_to_kpa(np.array([hpa]))[0] == pytest.approx(kpa)


# Magnus over water (Alduchov and Eskridge 1996): e_s(T) = 6.1094 exp(17.625 T / (T + 243.04))
#  T 2.9, Td 0.6:   e_s(0.6) = 6.1094 e^(10.575/243.64 = 0.043404) = 6.38041 hPa
#                   e_s(2.9) = 6.1094 e^(51.1125/245.94 = 0.207825) = 7.52066 hPa
#                   RH = 100 x 6.38041 / 7.52066 = 84.84 %  (Dongsi, 2015-11-01 hour 0)
#  T 0.7, Td -15.3: e_s(-15.3) = 6.1094 e^(-269.6625/227.74 = -1.184081) = 1.86964 hPa
#                   e_s(0.7) = 6.1094 e^(12.3375/243.74 = 0.050617) = 6.42660 hPa
#                   RH = 100 x 1.86964 / 6.42660 = 29.09 %  (Dongsi, 2016-02-29 hour 23)
#  T 20, Td 10:     e_s(10) = 12.2602, e_s(20) = 23.3344 -> RH = 52.54 %
#  T = Td = -10:    the same pressure twice -> exactly 100 %
@pytest.mark.parametrize("temp,dew,rh", [(2.9, 0.6, 84.84), (0.7, -15.3, 29.09),
                                         (20.0, 10.0, 52.54), (-10.0, -10.0, 100.0)],
                         ids=["dongsi-first", "dongsi-last", "20-10", "saturated"])
def test_relative_humidity_from_dew_point(temp, dew, rh):
    assert rh_from_dewpoint(np.array([temp]), np.array([dew]))[0] == pytest.approx(rh, abs=0.005)


def test_dew_point_above_temperature_is_over_100_not_clipped():
    # e_s(5) > e_s(4): RH = 100 x 8.72 / 8.13 > 100, left for the range check to refuse
    assert rh_from_dewpoint(np.array([4.0]), np.array([5.0]))[0] > 100


@pytest.mark.parametrize("name,deg", [("N", 0.0), ("NNE", 22.5), ("E", 90.0), ("SSW", 202.5),
                                      ("W", 270.0), ("NNW", 337.5), ("nw", 315.0)])
def test_compass_points_to_degrees(name, deg):
    # 16 points, 360 / 16 = 22.5 degrees apart, clockwise from north: SSW is the 10th (index 9)
    # -> 9 x 22.5 = 202.5
    out, bad = compass_to_deg([name])
    assert out[0] == deg and not bad[0]


def test_unknown_compass_names_are_flagged_and_missing_are_not():
    out, bad = compass_to_deg(["C", None, "NNNE"])
    assert np.isnan(out).all() and bad.tolist() == [True, False, True]


def test_hour_labelled_h_is_the_period_from_h_minus_1():
    # 2015-11-01 00:00 CST (label) = 2015-10-31 16:00 UTC; the mean of 23:00-24:00 CST on
    # 31 October, i.e. the period starting 2015-10-31 15:00 UTC
    label = int(datetime(2015, 10, 31, 16, tzinfo=timezone.utc).timestamp())
    start = datetime(2015, 10, 31, 15, tzinfo=timezone.utc).timestamp()
    assert label_to_period_start(np.array([label]))[0] == start


# -- the long parser takes any text without crashing and accounts for every value ---------
CAT = load_catalogue()
CELL = st.one_of(st.sampled_from(["1462A", "pm25", "co", "stage", "lintong", "NA", "", "N",
                                  "T", "x", "2015-12-01T08:00", "2015-12-01T08:00+08:00",
                                  "35.5", "-1", "1e9", "nan"]),
                 st.text(alphabet=st.characters(blacklist_categories=["Cs"],
                                                blacklist_characters=",\"\r\n"), max_size=8))


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(CELL, min_size=5, max_size=5), max_size=12))
def test_long_parser_accounts_for_every_cell(tmp_path: Path, rows):
    path = tmp_path / "long.csv"
    path.write_text("station,time,parameter,value,flag\n" +
                    "".join(",".join(r) + "\n" for r in rows), encoding="utf-8")
    chunks = list(parse_long(path, CAT, name_lookup(CAT)))
    missing = sum(c.missing for c in chunks)
    refused = sum(sum(c.rejected.values()) for c in chunks)
    kept = sum(int((~np.isnan(v)).sum()) for c in chunks for v in c.values.values())
    assert missing + refused + kept == len(rows)   # one value cell a row, each accounted for
    for c in chunks:
        assert all(s in CAT.stations for s in c.station)
        assert all(math.isfinite(t) and t > 0 for t in c.ts)
