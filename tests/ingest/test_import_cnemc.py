"""`fenwei import cnemc` (daily site files) and `fenwei import long`, on files written here."""
from __future__ import annotations

import csv
import gzip
from datetime import datetime, timezone
from pathlib import Path

import pytest

from core.store import open_store
from .conftest import run_cli   # the fixture beijing comes from conftest too

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "beijing-prsa"
POLLUTANTS = ["pm25", "pm10", "so2", "no2", "o3", "co"]
T0, T1 = datetime(2015, 11, 1, tzinfo=timezone.utc), datetime(2015, 12, 3, tzinfo=timezone.utc)



def raw(url, cat, kind, stations, params):
    store = open_store(url, cat)
    try:
        return store.raw(kind, stations, params, T0 - (T1 - T0), T1)
    finally:
        store.close()


# date 20151201, hours 0 and 1; 1003A and 1009A (Beijing) and 9999A (not in the catalogue).
# Cells: 6 hourly types x 2 hours x 2 known stations = 24, minus 2 blanks -> 22 stored;
# 9999A: 2 values (PM2.5 at hours 0 and 1) -> unknown_station; derived rows (PM2.5_24h, AQI,
# O3_8h): 3 types x 2 hours x 2 stations = 12 skipped, 9999A's derived cells are blank;
# one "-" under NO2 -> not_a_number; a type "XYZ" with one value -> unknown_type.
SITES = """date,hour,type,1003A,1009A,9999A
20151201,0,PM2.5,238,180,50
20151201,0,PM2.5_24h,200,150,
20151201,0,PM10,260,,
20151201,0,SO2,12,8,
20151201,0,NO2,-,60,
20151201,0,O3,2,4,
20151201,0,O3_8h,10,12,
20151201,0,CO,3.2,2.1,
20151201,0,AQI,288,230,
20151201,1,PM2.5,241,182,51
20151201,1,PM2.5_24h,201,151,
20151201,1,PM10,262,200,
20151201,1,SO2,13,,
20151201,1,NO2,95,61,
20151201,1,O3,2,5,
20151201,1,O3_8h,9,12,
20151201,1,CO,3.3,2.2,
20151201,1,AQI,291,232,
20151201,1,XYZ,7,,
"""


def test_cnemc_site_file_hand_counted(tmp_path, beijing):
    path = tmp_path / "china_sites_20151201.csv"
    path.write_text(SITES, encoding="utf-8")
    url = f"duckdb://{tmp_path / 's.duckdb'}"
    out = run_cli("cnemc", str(path), "--store-url", url, "--state", str(tmp_path / "st.json"),
                  "--json")
    assert out["values_stored"] == 21       # 22 hourly cells minus the "-" NO2
    assert out["rejected"] == {"not_a_number": 1, "unknown_station": 2, "unknown_type": 1}
    assert out["skipped"] == {"derived_AQI": 4, "derived_O3_8h": 4, "derived_PM2.5_24h": 4}
    assert out["rows_read"] == 19
    frame = raw(url, beijing, "air", ["1003A"], POLLUTANTS)
    # hour 0 of 1 December (CST) is the mean of 23:00-24:00 on 30 November = 15:00 UTC
    first = frame[frame["time"] == datetime(2015, 11, 30, 15, tzinfo=timezone.utc)]
    assert first[["pm25", "pm10", "so2", "o3"]].iloc[0].tolist() == [238, 260, 12, 2]
    assert first["no2"].isna().all()          # the "-" was refused, not stored
    assert first["co"].iat[0] == 3.2        # CNEMC CO is already mg/m3: stored as is
    assert len(frame) == 2
    again = run_cli("cnemc", str(path), "--store-url", url, "--state",
                    str(tmp_path / "st.json"), "--restart", "--json")
    assert again["values_stored"] == 0 and again["values_unchanged"] == 21


def _prsa_rows(day: tuple[int, int, int]) -> dict[tuple[str, int], dict]:
    out = {}
    for path in sorted(DATA.glob("*.csv.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if (int(row["year"]), int(row["month"]), int(row["day"])) == day:
                    out[(row["station"], int(row["hour"]))] = row
    return out


def test_cnemc_file_of_the_prsa_values_imports_the_same(tmp_path, beijing):
    """1 December 2015 of the PRSA excerpt, rewritten as a CNEMC site file (CO in mg/m3 as
    CNEMC publishes it: 1300 ug/m3 is written 1.3), stores the same pollutant values."""
    rows = _prsa_rows((2015, 12, 1))
    code = {"Dongsi": "1003A", "Huairou": "1009A"}
    cols = {"PM2.5": "PM2.5", "PM10": "PM10", "SO2": "SO2", "NO2": "NO2", "O3": "O3"}
    lines = ["date,hour,type,1003A,1009A"]
    for hour in range(24):
        for typ, col in [*cols.items(), ("CO", "CO")]:
            cells = []
            for name in code:
                v = rows[(name, hour)][col]
                cells.append("" if v == "NA" else
                             (str(float(v) / 1000) if typ == "CO" else v))
            lines.append(f"20151201,{hour},{typ}," + ",".join(cells))
    cn = tmp_path / "china_sites_20151201.csv"
    cn.write_text("\n".join(lines) + "\n", encoding="utf-8")
    pr = tmp_path / "prsa.csv"
    with gzip.open(sorted(DATA.glob("*.csv.gz"))[0], "rt", encoding="utf-8") as f:
        header = f.readline()
    with open(pr, "w", encoding="utf-8") as f:
        f.write(header)
        for (name, hour), row in sorted(rows.items()):
            f.write(",".join(row[c] if c not in ("wd", "station") else f'"{row[c]}"'
                             for c in row) + "\n")
    a, b = f"duckdb://{tmp_path / 'a.duckdb'}", f"duckdb://{tmp_path / 'b.duckdb'}"
    run_cli("cnemc", str(cn), "--store-url", a, "--state", str(tmp_path / "a.json"), "--json")
    run_cli("prsa", str(pr), "--store-url", b, "--state", str(tmp_path / "b.json"), "--json")
    fa = raw(a, beijing, "air", ["1003A", "1009A"], POLLUTANTS)
    fb = raw(b, beijing, "air", ["1003A", "1009A"], POLLUTANTS)
    assert len(fa) == 48
    for col in ("time", "station", *POLLUTANTS):
        assert fa[col].tolist() == pytest.approx(fb[col].tolist(), nan_ok=True) \
            if col in POLLUTANTS else fa[col].tolist() == fb[col].tolist()


LONG = """station,time,parameter,value,flag
1462A,2015-12-01T08:00+08:00,pm25,150,N
1462A,2015-12-01T08:00,pm10,210,
1462A,2015-12-01T09:00+08:00,pm25,999,T
lintong,2015-12-01T00:00Z,discharge,35.5,
lintong,2015-12-01T00:00Z,pm25,10,
nowhere,2015-12-01T00:00Z,pm25,10,
1462A,not a time,pm25,10,
1462A,2015-12-01T10:00+08:00,colour,1,
1462A,2015-12-01T10:00+08:00,pm25,-5,
1462A,2015-12-01T10:00+08:00,pm10,NA,
1462A,2015-12-01T11:00+08:00,pm10,20,Q
"""


def test_long_format(tmp_path, catalogue):
    path = tmp_path / "long.csv"
    path.write_text(LONG, encoding="utf-8")
    url = f"duckdb://{tmp_path / 'l.duckdb'}"
    out = run_cli("long", str(path), "--store-url", url, "--state", str(tmp_path / "s.json"),
                  "--json")
    assert out["values_stored"] == 4        # two at 08:00, the T value, lintong's discharge
    assert out["missing"] == 1
    assert out["rejected"] == {"bad_flag": 1, "bad_time": 1, "out_of_range": 1,
                               "parameter_of_other_kind": 1, "unknown_parameter": 1,
                               "unknown_station": 1}
    air = raw(url, catalogue, "air", ["1462A"], ["pm25", "pm10"])
    # 08:00+08:00 labels 07:00-08:00 CST = 23:00-24:00 UTC on 30 November; a label without
    # an offset is CST too, so pm25 and pm10 share that reading
    t = datetime(2015, 11, 30, 23, tzinfo=timezone.utc)
    row = air[air["time"] == t].iloc[0]
    assert (row["pm25"], row["pm10"]) == (150, 210)
    t_flag = air[air["time"] == datetime(2015, 12, 1, tzinfo=timezone.utc)].iloc[0]
    assert (t_flag["pm25"], t_flag["pm25_flag"]) == (999, "T")
    hydro = raw(url, catalogue, "hydro", ["lintong"], ["discharge"])
    assert hydro["time"].tolist() == [datetime(2015, 11, 30, 23, tzinfo=timezone.utc)]
