"""`fenwei import cnemc` of the national network's city files (china_cities_YYYYMMDD.csv): one
column per city's Chinese name, stored as measurement ``city_obs`` (tag ``city`` = catalogue
slug, one field per parameter), hand-counted on a file written here, on DuckDB."""
from __future__ import annotations

from datetime import datetime, timezone
from core.store import open_store

from .conftest import run_cli   # the fixture beijing comes from conftest too

T0, T1 = datetime(2015, 11, 30, tzinfo=timezone.utc), datetime(2015, 12, 2, tzinfo=timezone.utc)

# 北京 (beijing, from the catalogue extension) and 西安 (xian) are catalogue cities; 上海 is
# not (2 of 3 columns are cities: a city file). Hourly cells of the two known cities:
#   hour 0: PM2.5 300, 200; PM10 350, (blank); CO 3.5, 2.0           -> 5 values
#   hour 1: PM2.5 310, "-" (not_a_number); O3 5, 10                  -> 3 values
# stored 8; 上海's PM2.5 50 and PM10 60 -> unknown_city 2; derived rows PM2.5_24h and AQI:
# 2 cells each (上海's blank) -> skipped; blank cells: 西安 PM10, 上海 PM2.5_24h, CO, AQI at
# hour 0, PM2.5 and O3 at hour 1 -> 6 missing; 7 rows read.
CITIES = """date,hour,type,北京,西安,上海
20151201,0,PM2.5,300,200,50
20151201,0,PM2.5_24h,280,190,
20151201,0,PM10,350,,60
20151201,0,CO,3.5,2.0,
20151201,0,AQI,350,250,
20151201,1,PM2.5,310,-,
20151201,1,O3,5,10,
"""



def city_obs(url, cat):
    store = open_store(url, cat)
    try:
        return store.read_frame("city_obs", T0, T1).set_index(["city", "time"])
    finally:
        store.close()


def test_cnemc_city_file_hand_counted(tmp_path, beijing):
    path = tmp_path / "china_cities_20151201.csv"
    path.write_text(CITIES, encoding="utf-8")
    url = f"duckdb://{tmp_path / 'c.duckdb'}"
    args = ("cnemc", str(path), "--store-url", url, "--state", str(tmp_path / "s.json"))
    out = run_cli(*args, "--json")
    assert out["values_stored"] == 8 and out["readings_stored"] == 4
    assert out["rejected"] == {"not_a_number": 1, "unknown_city": 2}
    assert out["skipped"] == {"derived_AQI": 2, "derived_PM2.5_24h": 2}
    assert (out["rows_read"], out["missing"]) == (7, 6)
    assert out["values_read"] == 8 + 3 + 4
    obs = city_obs(url, beijing)
    # hour 0 of 1 December CST is the mean of 23:00-24:00 CST on 30 November = 15:00 UTC
    h0, h1 = (datetime(2015, 11, 30, 15, tzinfo=timezone.utc),
              datetime(2015, 11, 30, 16, tzinfo=timezone.utc))
    assert len(obs) == 4
    assert obs.loc[("beijing", h0), ["pm25", "pm10", "co"]].tolist() == [300, 350, 3.5]
    assert obs.loc[("beijing", h1), ["pm25", "o3"]].tolist() == [310, 5]
    assert obs.loc[("xian", h0), ["pm25", "co"]].tolist() == [200, 2.0]
    assert obs.loc[("xian", h0), "pm10"] != obs.loc[("xian", h0), "pm10"]   # NaN: blank
    assert obs.loc[("xian", h1), "o3"] == 10
    assert obs.loc[("xian", h1), "pm25"] != obs.loc[("xian", h1), "pm25"]   # "-" refused
    # idempotent: re-read, nothing new
    again = run_cli(*args, "--restart", "--json")
    assert (again["values_stored"], again["values_unchanged"], again["readings_stored"]) \
        == (0, 8, 0)
    # a corrected value replaces the stored one and keeps the row's other fields
    path.write_text(CITIES.replace("PM2.5,300,", "PM2.5,305,"), encoding="utf-8")
    fixed = run_cli(*args, "--json")
    assert (fixed["values_replaced"], fixed["values_unchanged"]) == (1, 7)
    obs = city_obs(url, beijing)
    assert obs.loc[("beijing", h0), ["pm25", "pm10", "co"]].tolist() == [305, 350, 3.5]
    assert len(obs) == 4
