"""Issue 16 item 14: simulated air stations are not marked national; city AQI still has
stations to work from (national ones, else a city's simulated stand-ins)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd

from core.aqi import load_hourly
from core.wire import Reading

# DOMAIN.md section 2: Xi'an's 13 national stations, 1462A .. 1474A
XIAN = {f"{n}A" for n in range(1462, 1475)}


def test_no_simulated_air_station_is_national(catalogue):
    air = [s for s in catalogue.stations.values() if s.kind == "air"]
    assert {s.id for s in air if s.national} == XIAN
    assert all(not s.national for s in air if s.simulated)
    assert all(not s.simulated for s in air if s.id in XIAN)


def test_aqi_stations_are_national_or_a_citys_stand_ins(catalogue):
    chosen = {s.id for s in catalogue.aqi_stations()}
    assert XIAN <= chosen
    for city in catalogue.cities:
        air = catalogue.stations_of(city, "air")
        mine = {s.id for s in air} & chosen
        if city == "xian":
            assert mine == XIAN            # stand-ins never mix with national stations
        else:
            assert mine == {s.id for s in air if s.simulated} and mine


def test_load_hourly_reads_stand_ins_of_cities_without_national_stations(catalogue, tmp_path):
    from core.store import open_store
    store = open_store(f"duckdb://{tmp_path / 's.duckdb'}", catalogue)
    t = datetime(2026, 1, 10, tzinfo=timezone.utc)
    weinan = next(s for s in catalogue.stations_of("weinan", "air"))
    store.write([Reading(sid, city, "air", t, "PT1H", {"pm25": 100.0})
                 for sid, city in (("1462A", "xian"), (weinan.id, "weinan"))])
    frame = load_hourly(store, catalogue, t, t + timedelta(hours=1))
    assert set(frame["station"]) == {"1462A", weinan.id}
    assert (frame["pm25"] == 100.0).all() and isinstance(frame, pd.DataFrame)
    store.close()
