"""One contract, two adapters: every case runs against embedded DuckDB and a real InfluxDB 1.6.7.

Expected results are computed with pandas from the same input readings, never from a store.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import httpx
import numpy as np
import pandas as pd
import pytest

from core.flags import FLAGS
from core.store import (DuckDBStore, InfluxStore, QueryError, QueryTooLarge, StoreError,
                        open_store)
from core.wire import CST, Reading

T0 = datetime(2026, 11, 24, 0, 0, tzinfo=CST)  # a CST midnight
AIR = ("1462A", "1463A", "1464A", "SIM-BAOJI-01", "SIM-BAOJI-02")
PARAMS = ("pm25", "pm10", "co")


@pytest.fixture(params=["duckdb", "influxdb"])
def make_store(request, tmp_path, catalogue):
    opened = []

    def make(max_rows: int = 1_000_000):
        if request.param == "duckdb":
            s = DuckDBStore(tmp_path / f"store{len(opened)}.duckdb", catalogue, max_rows=max_rows)
        else:
            url = request.getfixturevalue("influx_url")
            s = InfluxStore(url, catalogue, max_rows=max_rows)
        opened.append(s)
        return s

    yield make
    for s in opened:
        s.close()


@pytest.fixture
def store(make_store):
    return make_store()


def reading(cat, station, ts, values, flags=None, period="PT1H") -> Reading:
    s = cat.station(station)
    return Reading(station, s.city, s.kind, ts.astimezone(timezone.utc), period, values,
                   flags or {})


def dataset(cat, hours: int = 72, seed: int = 7) -> list[Reading]:
    """Hourly air readings over three CST days with gaps, partial rows and flags."""
    rng = np.random.default_rng(seed)
    out = []
    for station in AIR:
        for h in range(hours):
            values, flags = {}, {}
            for p in PARAMS:
                if rng.random() < 0.15:
                    continue  # a gap for this parameter
                values[p] = round(float(rng.uniform(0, 300 if p != "co" else 5)), 1)
                if rng.random() < 0.1:
                    flags[p] = str(rng.choice(list(FLAGS)[1:]))
            if values:
                out.append(reading(cat, station, T0 + timedelta(hours=h), values, flags))
    return out


def frame_of(readings: list[Reading]) -> pd.DataFrame:
    rows = []
    for r in readings:
        row = {"time": pd.Timestamp(r.ts), "station": r.station, "city": r.city,
               "period": r.period}
        for p, v in r.values.items():
            row[p], row[f"{p}_flag"] = v, r.flag(p)
        rows.append(row)
    return pd.DataFrame(rows)


def reference_aggregate(readings, params, start, end, every, by, keys=None) -> pd.DataFrame:
    df = frame_of(readings)
    df = df[(df.time >= pd.Timestamp(start)) & (df.time < pd.Timestamp(end))]
    if keys:
        df = df[df[by].isin(keys)]
    df = df[df[list(params)].notna().any(axis=1)].copy()
    if every == "1h":
        df["bucket"] = df.time.dt.floor("1h")
    else:  # China Standard Time days
        df["bucket"] = (df.time + pd.Timedelta(hours=8)).dt.floor("1D") - pd.Timedelta(hours=8)
    g = df.groupby(["bucket", by])
    out = pd.DataFrame({f"{p}_{a}": getattr(g[p], f)() for p in params
                        for a, f in (("mean", "mean"), ("min", "min"), ("max", "max"),
                                     ("count", "count"))}).reset_index()
    out = out.rename(columns={"bucket": "time"})
    return out.sort_values([by, "time"]).reset_index(drop=True)


def same_frame(got: pd.DataFrame, want: pd.DataFrame) -> None:
    got, want = got.copy(), want.copy()
    assert list(got.columns) == list(want.columns)
    for df in (got, want):
        df["time"] = pd.to_datetime(df["time"], utc=True).dt.as_unit("s")
        for c in df.columns:
            if c.endswith("_flag") or df[c].dtype == object:
                df[c] = df[c].astype(object).where(df[c].notna(), None)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True),
                                  check_dtype=False, rtol=1e-9)


def expected_raw(readings, stations, params, start, end) -> pd.DataFrame:
    df = frame_of(readings)
    for p in params:
        if p not in df:
            df[p], df[f"{p}_flag"] = np.nan, None
    df = df[df.station.isin(stations) & (df.time >= pd.Timestamp(start))
            & (df.time < pd.Timestamp(end)) & df[list(params)].notna().any(axis=1)]
    cols = ["time", "station", "city", "period"] + [c for p in params for c in (p, f"{p}_flag")]
    return df[cols].sort_values(["station", "period", "time"]).reset_index(drop=True)


# -- writing: idempotent rewrite, flags ------------------------------------------------
def test_raw_returns_what_was_written_for_stations_params_and_range(store, catalogue):
    data = dataset(catalogue)
    assert store.write(data) == len(data)
    start, end = T0 + timedelta(hours=5), T0 + timedelta(hours=40)
    got = store.raw("air", ["1462A", "SIM-BAOJI-01"], ["pm25", "co"], start, end)
    want = expected_raw(data, ["1462A", "SIM-BAOJI-01"], ["pm25", "co"], start, end)
    assert len(want) > 50
    same_frame(got, want)
    assert str(got["time"].dt.tz) == "UTC" and got["pm25"].dtype == "float64"


def test_writing_the_same_batch_twice_changes_nothing(store, catalogue):
    data = dataset(catalogue, hours=24)
    store.write(data)
    store.write(data)
    store.write(list(reversed(data)))
    got = store.raw("air", list(AIR), list(PARAMS), T0, T0 + timedelta(days=1))
    same_frame(got, expected_raw(data, AIR, PARAMS, T0, T0 + timedelta(days=1)))


def test_rewrite_of_station_ts_period_replaces_value_and_flag(store, catalogue):
    ts = T0 + timedelta(hours=3)
    store.write([reading(catalogue, "1462A", ts, {"pm25": 999.0, "pm10": 20.0},
                         {"pm25": "D", "pm10": "M"})])
    store.write([reading(catalogue, "1462A", ts, {"pm25": 150.0})])  # corrected, flag N
    store.write([reading(catalogue, "1462A", ts, {"pm10": 30.0}, {"pm10": "T"})])
    got = store.raw("air", ["1462A"], ["pm25", "pm10", "so2"], T0, T0 + timedelta(days=1))
    assert len(got) == 1, got
    row = got.iloc[0]
    assert (row.pm25, row.pm25_flag, row.pm10, row.pm10_flag) == (150.0, "N", 30.0, "T")
    assert pd.isna(row.so2) and pd.isna(row.so2_flag)  # never written: no value, no flag


def test_a_rewrite_keeps_parameters_it_does_not_carry(store, catalogue):
    ts = T0 + timedelta(hours=1)
    store.write([reading(catalogue, "1463A", ts, {"pm25": 1.0, "pm10": 2.0}, {"pm10": "C"})])
    store.write([reading(catalogue, "1463A", ts, {"pm25": 5.0})])
    row = store.raw("air", ["1463A"], ["pm25", "pm10"], T0, ts + timedelta(hours=1)).iloc[0]
    assert (row.pm25, row.pm25_flag, row.pm10, row.pm10_flag) == (5.0, "N", 2.0, "C")


def test_one_batch_merges_the_fields_of_one_point(store, catalogue):
    """Two readings of the same station, period and time in one batch (an SL 651 answer
    brings stage and discharge of an hour in separate frames) merge field by field, a later
    value winning with its flag, as InfluxDB merges a point's fields."""
    ts = T0 + timedelta(hours=2)
    store.write([reading(catalogue, "1463A", ts, {"pm25": 1.0, "pm10": 2.0}, {"pm10": "C"}),
                 reading(catalogue, "1463A", ts, {"co": 0.7}),
                 reading(catalogue, "1463A", ts, {"pm25": 3.0}, {"pm25": "M"})])
    row = store.raw("air", ["1463A"], ["pm25", "pm10", "co"], ts,
                    ts + timedelta(hours=1)).iloc[0]
    assert (row.pm25, row.pm25_flag, row.pm10, row.pm10_flag, row.co, row.co_flag) == \
        (3.0, "M", 2.0, "C", 0.7, "N")


def test_a_duckdb_file_from_an_older_catalogue_gains_the_new_columns(tmp_path, catalogue):
    """A file made before the catalogue gained a parameter (here: precip dropped again, as
    an older file lacks it) is written to with the parameter after reopening."""
    import duckdb
    path = tmp_path / "old.duckdb"
    DuckDBStore(path, catalogue).close()
    con = duckdb.connect(str(path))
    con.execute("ALTER TABLE air DROP COLUMN precip_flag")
    con.execute("ALTER TABLE air DROP COLUMN precip")
    con.close()
    s = DuckDBStore(path, catalogue)
    try:
        s.write([reading(catalogue, "1462A", T0, {"pm25": 10.0, "precip": 1.5})])
        row = s.raw("air", ["1462A"], ["pm25", "precip"], T0, T0 + timedelta(hours=1)).iloc[0]
        assert (row.pm25, row.precip) == (10.0, 1.5)
    finally:
        s.close()


def test_same_ts_with_another_period_is_another_reading(store, catalogue):
    store.write([reading(catalogue, "1462A", T0, {"pm25": 10.0}, period="PT1H"),
                 reading(catalogue, "1462A", T0, {"pm25": 12.0}, period="P1D"),
                 reading(catalogue, "1462A", T0, {"pm25": 9.0}, period="PT0S")])
    got = store.raw("air", ["1462A"], ["pm25"], T0, T0 + timedelta(hours=1))
    assert sorted(zip(got.period, got.pm25)) == [("P1D", 12.0), ("PT0S", 9.0), ("PT1H", 10.0)]


def test_every_flag_letter_is_preserved(store, catalogue):
    data = [reading(catalogue, "1464A", T0 + timedelta(hours=i), {"pm25": float(i), "o3": 5.0},
                    {"pm25": letter}) for i, letter in enumerate(FLAGS)]
    store.write(data)
    got = store.raw("air", ["1464A"], ["pm25", "o3"], T0, T0 + timedelta(days=1))
    assert list(got.pm25_flag) == list(FLAGS)
    assert set(got.o3_flag) == {"N"}


def test_hydro_and_air_are_kept_apart(store, catalogue):
    store.write([reading(catalogue, "lintong", T0, {"stage": 351.4, "discharge": 120.0},
                         {"discharge": "S"}, period="PT0S"),
                 reading(catalogue, "1471A", T0, {"pm25": 80.0})])
    got = store.raw("hydro", ["lintong"], ["stage", "discharge"], T0, T0 + timedelta(hours=1))
    assert list(got.columns) == ["time", "station", "city", "period", "stage", "stage_flag",
                                 "discharge", "discharge_flag"]
    assert (got.stage[0], got.discharge_flag[0], got.city[0]) == (351.4, "S", "xian")
    assert store.raw("air", ["lintong"], ["pm25"], T0, T0 + timedelta(hours=1)).empty


def test_empty_results_keep_their_columns(store):
    raw = store.raw("air", ["1462A"], ["pm25"], T0, T0 + timedelta(hours=1))
    assert raw.empty and list(raw.columns) == ["time", "station", "city", "period", "pm25",
                                               "pm25_flag"]
    agg = store.aggregate("air", ["pm25"], T0, T0 + timedelta(hours=1))
    assert agg.empty and list(agg.columns) == ["time", "station", "pm25_mean", "pm25_min",
                                               "pm25_max", "pm25_count"]
    assert store.latest("hydro").empty


# -- aggregates against a pandas reference ---------------------------------------------
AGGREGATES = [
    ("1h-by-station", "1h", "station", None),
    ("1h-by-station-some", "1h", "station", ["1463A", "SIM-BAOJI-02"]),
    ("1h-by-city", "1h", "city", None),
    ("1d-by-station", "1d", "station", None),
    ("1d-by-city", "1d", "city", None),
    ("1d-by-city-xian", "1d", "city", ["xian"]),
]


@pytest.mark.parametrize("every,by,keys", [a[1:] for a in AGGREGATES],
                         ids=[a[0] for a in AGGREGATES])
def test_aggregates_equal_the_pandas_reference(store, catalogue, every, by, keys):
    data = dataset(catalogue)
    store.write(data)
    store.write(data[:40])  # rewrites do not count twice
    start, end = T0 + timedelta(hours=5, minutes=30), T0 + timedelta(hours=61)
    got = store.aggregate("air", list(PARAMS), start, end, every=every, by=by, keys=keys)
    want = reference_aggregate(data, PARAMS, start, end, every, by, keys)
    assert len(want) > 2
    same_frame(got, want)
    assert all(got[f"{p}_count"].dtype.kind == "i" for p in PARAMS)


def test_daily_buckets_are_china_standard_time_days(store, catalogue):
    # 23:30 CST on the 24th and 00:30 CST on the 25th: same UTC day, different CST days
    store.write([reading(catalogue, "1462A", T0 + timedelta(hours=23, minutes=30),
                         {"pm25": 10.0}, period="PT0S"),
                 reading(catalogue, "1462A", T0 + timedelta(hours=24, minutes=30),
                         {"pm25": 30.0}, period="PT0S")])
    got = store.aggregate("air", ["pm25"], T0, T0 + timedelta(days=2), every="1d")
    assert [t.astimezone(CST) for t in got.time] == [T0, T0 + timedelta(days=1)]
    assert list(got.pm25_mean) == [10.0, 30.0]


# -- latest ----------------------------------------------------------------------------
def test_latest_is_the_newest_reading_per_station(store, catalogue):
    data = dataset(catalogue, hours=30)
    store.write(data)
    got = store.latest("air")
    want = frame_of(data).sort_values("time").groupby("station").tail(1)
    assert sorted(got.station) == sorted(AIR)
    for _, w in want.iterrows():
        g = got[got.station == w.station].iloc[0]
        assert g.time == w.time
        for p in PARAMS:
            assert (pd.isna(g[p]) and pd.isna(w[p])) or (g[p], g[f"{p}_flag"]) == (w[p], w[f"{p}_flag"])
    some = store.latest("air", ["1463A", "SIM-BAOJI-01"])
    assert sorted(some.station) == ["1463A", "SIM-BAOJI-01"]
    assert set(some.columns) >= {"time", "station", "city", "period", "pm25", "pm25_flag"}


def long_dataset(cat, days: int = 70) -> list[Reading]:
    """Two stations every 6 h over ``days`` days, with flags and gaps."""
    rng = np.random.default_rng(11)
    out = []
    for station in ("1462A", "SIM-BAOJI-01"):
        for k in range(days * 4):
            values = {p: round(float(rng.uniform(0, 200)), 1) for p in PARAMS
                      if rng.random() > 0.1}
            flags = {p: "D" for p in values if rng.random() < 0.05}
            if values:
                out.append(reading(cat, station, T0 - timedelta(days=days, hours=-6 * k),
                                   values, flags))
    return out


def test_raw_over_a_long_range_is_whole_and_in_order(store, catalogue):
    # InfluxDB answers ranges over 30 days as two halves fetched at once: nothing lost or
    # doubled at the seam, rows still by station then time
    data = long_dataset(catalogue)
    store.write(data)
    start, end = T0 - timedelta(days=65), T0 - timedelta(days=1, hours=3)
    got = store.raw("air", ["1462A", "SIM-BAOJI-01"], list(PARAMS), start, end)
    want = expected_raw(data, ["1462A", "SIM-BAOJI-01"], list(PARAMS), start, end)
    assert len(want) > 400
    same_frame(got, want)


def test_raw_bound_counts_both_halves_of_a_long_range(make_store, catalogue):
    small = make_store(max_rows=300)
    data = [r for r in long_dataset(catalogue) if r.station == "1462A"]  # 280 readings
    small.write(data)
    start, end = T0 - timedelta(days=70), T0
    assert len(small.raw("air", ["1462A"], ["pm25", "pm10", "co"], start, end)) == 280
    with pytest.raises(QueryTooLarge):  # 140 + 140 rows, each half under the bound
        small.raw("air", ["1462A"], ["pm25", "pm10", "co"], start, end, limit=200)


# -- bounds ----------------------------------------------------------------------------
def test_raw_over_the_row_bound_is_refused(make_store, catalogue):
    small = make_store(max_rows=10)
    small.write([reading(catalogue, "1462A", T0 + timedelta(hours=i), {"pm25": 1.0})
                 for i in range(24)])
    with pytest.raises(QueryTooLarge):
        small.raw("air", ["1462A"], ["pm25"], T0, T0 + timedelta(days=1))
    assert len(small.raw("air", ["1462A"], ["pm25"], T0, T0 + timedelta(hours=10))) == 10
    with pytest.raises(QueryTooLarge):
        small.raw("air", ["1462A"], ["pm25"], T0, T0 + timedelta(hours=10), limit=5)


def test_aggregate_bound_is_checked_before_querying(make_store):
    small = make_store(max_rows=100)
    with pytest.raises(QueryTooLarge):  # 49 hourly buckets x 3 stations > 100
        small.aggregate("air", ["pm25"], T0, T0 + timedelta(hours=48),
                        keys=["1462A", "1463A", "1464A"])
    small.aggregate("air", ["pm25"], T0, T0 + timedelta(hours=24), keys=["1462A"])
    began = time.monotonic()
    with pytest.raises(QueryTooLarge):  # ten years of hours for every station
        small.aggregate("air", list(PARAMS), T0 - timedelta(days=3650), T0)
    assert time.monotonic() - began < 1.0


def test_read_frame_over_the_row_bound_is_refused(make_store):
    small = make_store(max_rows=5)
    frame = pd.DataFrame({"time": [T0 + timedelta(hours=i) for i in range(8)],
                          "station": "1462A", "aqi": np.arange(8, dtype=float)})
    small.write_frame("aqi_hourly", frame, ["station"])
    with pytest.raises(QueryTooLarge):
        small.read_frame("aqi_hourly", T0, T0 + timedelta(days=1))


# -- bad identifiers: QueryError, and nothing is injected ------------------------------
NAUGHTY = ["1462A' OR '1'='1", '1462A" OR 1=1 --', "1462A; DROP TABLE air", "a b", "", "x\n",
           "air\"", "../etc", "(select 1)"]
BAD_QUERIES = [
    ("kind", lambda s: s.raw("air; DROP", ["1462A"], ["pm25"], T0, T0 + timedelta(1))),
    ("kind-latest", lambda s: s.latest('air" --')),
    ("param-unknown", lambda s: s.raw("air", ["1462A"], ["pm25 FROM air; --"], T0,
                                      T0 + timedelta(1))),
    ("param-other-kind", lambda s: s.raw("air", ["1462A"], ["discharge"], T0, T0 + timedelta(1))),
    ("params-none", lambda s: s.raw("air", ["1462A"], [], T0, T0 + timedelta(1))),
    ("naive-start", lambda s: s.raw("air", ["1462A"], ["pm25"], datetime(2026, 1, 1),
                                    T0 + timedelta(1))),
    ("end-before-start", lambda s: s.raw("air", ["1462A"], ["pm25"], T0, T0)),
    ("every", lambda s: s.aggregate("air", ["pm25"], T0, T0 + timedelta(1), every="5m")),
    ("by", lambda s: s.aggregate("air", ["pm25"], T0, T0 + timedelta(1), by="province")),
    ("measurement", lambda s: s.read_frame('aqi"; DROP', T0, T0 + timedelta(1))),
    ("measurement-dotted", lambda s: s.read_frame("x.aqi", T0, T0 + timedelta(1))),
    ("where-column", lambda s: s.read_frame("aqi", T0, T0 + timedelta(1),
                                            where={'station" OR 1=1': ["1462A"]})),
    ("where-value", lambda s: s.read_frame("aqi", T0, T0 + timedelta(1),
                                           where={"station": ["1462A' OR '1'='1"]})),
    ("frame-column", lambda s: s.write_frame("aqi", pd.DataFrame(
        {"time": [T0], 'x" INT, y': [1.0]}), [])),
    ("frame-without-time", lambda s: s.write_frame("aqi", pd.DataFrame({"v": [1.0]}), [])),
]


@pytest.mark.parametrize("name", NAUGHTY, ids=range(len(NAUGHTY)))
def test_bad_station_identifiers_are_refused(store, catalogue, name):
    store.write([reading(catalogue, "1462A", T0, {"pm25": 1.0})])
    for call in (lambda: store.raw("air", [name], ["pm25"], T0, T0 + timedelta(1)),
                 lambda: store.aggregate("air", ["pm25"], T0, T0 + timedelta(1), keys=[name]),
                 lambda: store.aggregate("air", ["pm25"], T0, T0 + timedelta(1), by="city",
                                         keys=[name]),
                 lambda: store.latest("air", [name])):
        with pytest.raises(QueryError):
            call()
    assert len(store.raw("air", ["1462A"], ["pm25"], T0, T0 + timedelta(1))) == 1


@pytest.mark.parametrize("call", [b[1] for b in BAD_QUERIES], ids=[b[0] for b in BAD_QUERIES])
def test_bad_query_parts_are_refused(store, call):
    with pytest.raises(QueryError):
        call(store)


def test_unknown_station_is_just_empty(store, catalogue):
    store.write([reading(catalogue, "1462A", T0, {"pm25": 1.0})])
    assert store.raw("air", ["9999Z"], ["pm25"], T0, T0 + timedelta(1)).empty


# -- derived frames --------------------------------------------------------------------
def aqi_frame(aqi_offset: float = 0.0) -> pd.DataFrame:
    n = 6
    return pd.DataFrame({
        "time": [T0 + timedelta(hours=i // 2) for i in range(n)],
        "station": ["1462A", "1463A"] * (n // 2),
        "aqi": [50.0 + i + aqi_offset for i in range(n)],
        "level": ["I", "II", "III", "I", "II", "IV"],
        "pm25_iaqi": [10.5, np.nan, 30.25, 40.0, 55.5, 60.0],
    })


def read_sorted(store, measurement, start, end, where=None) -> pd.DataFrame:
    df = store.read_frame(measurement, start, end, where)
    df = df[sorted(df.columns)]
    return df.sort_values(["time", "station"]).reset_index(drop=True)


def test_write_frame_read_frame_round_trip(store):
    frame = aqi_frame()
    assert store.write_frame("aqi_hourly", frame, ["station"]) == len(frame)
    got = read_sorted(store, "aqi_hourly", T0, T0 + timedelta(days=1))
    same_frame(got, frame[sorted(frame.columns)])
    one = read_sorted(store, "aqi_hourly", T0 + timedelta(hours=1), T0 + timedelta(hours=2),
                      where={"station": ["1463A"]})
    assert list(one.aqi) == [53.0] and list(one.level) == ["I"]
    assert store.read_frame("never_written", T0, T0 + timedelta(days=1)).empty


def test_write_frame_is_idempotent_and_rewrites(store):
    store.write_frame("aqi_hourly", aqi_frame(), ["station"])
    store.write_frame("aqi_hourly", aqi_frame(), ["station"])
    store.write_frame("aqi_hourly", aqi_frame(100.0), ["station"])
    got = read_sorted(store, "aqi_hourly", T0, T0 + timedelta(days=1))
    same_frame(got, aqi_frame(100.0)[sorted(aqi_frame().columns)])


def test_derived_frames_do_not_touch_readings(store, catalogue):
    store.write([reading(catalogue, "1462A", T0, {"pm25": 1.0})])
    store.write_frame("aqi_hourly", aqi_frame(), ["station"])
    assert len(store.raw("air", ["1462A"], ["pm25"], T0, T0 + timedelta(days=1))) == 1


# -- adapter specifics -----------------------------------------------------------------
def test_open_store_urls(tmp_path, catalogue):
    s = open_store(f"duckdb://{tmp_path}/x.duckdb", catalogue)
    assert isinstance(s, DuckDBStore) and s.ping()
    s.close()
    with pytest.raises(StoreError):
        open_store("mysql://h/db", catalogue)
    with pytest.raises(StoreError):
        open_store("influxdb://127.0.0.1:1/bad;name", catalogue)


def test_influxdb_schema_is_the_documented_one(influx_url, influxdb_server, catalogue):
    """docs/influxdb-schema.md: measurement per kind, tags station/city/period, float fields,
    string <p>_flag fields, time = start of period in seconds, derived series apart."""
    store = InfluxStore(influx_url, catalogue)
    store.write([reading(catalogue, "1462A", T0, {"pm25": 156.0, "pm10": 210.0},
                         {"pm10": "M"}),
                 reading(catalogue, "lintong", T0, {"stage": 351.0}, period="PT0S")])
    store.write_frame("aqi_hourly", aqi_frame(), ["station"])

    def q(text):
        r = httpx.post(f"{influxdb_server.url}/query", data={"q": text, "db": store.db})
        return [tuple(v) for s in r.json()["results"][0].get("series", []) for v in s["values"]]

    assert sorted(m for (m,) in q("SHOW MEASUREMENTS")) == ["air", "aqi_hourly", "hydro"]
    assert sorted(k for (k,) in q('SHOW TAG KEYS FROM "air"')) == ["city", "period", "station"]
    fields = dict(q('SHOW FIELD KEYS FROM "air"'))
    assert fields == {"pm25": "float", "pm10": "float", "pm25_flag": "string",
                      "pm10_flag": "string"}
    rows = q('SELECT "pm25", "pm10_flag", "station" FROM "air"')
    assert rows == [("2026-11-23T16:00:00Z", 156.0, "M", "1462A")]
    store.close()


def test_influxdb_unreachable_is_store_unavailable(catalogue):
    from core.store import StoreUnavailable
    s = InfluxStore("influxdb://127.0.0.1:1/fenwei", catalogue, timeout=1.0, create_db=False)
    with pytest.raises(StoreUnavailable):
        s.raw("air", ["1462A"], ["pm25"], T0, T0 + timedelta(hours=1))
    assert not s.ping()


def test_influxdb_missing_database_is_an_outage_and_recreated(influx_url, influxdb_server,
                                                             catalogue):
    """A dropped database is a 404: StoreUnavailable (retried, never dead-lettered); the
    adapter recreates it as at start, so the retry stores the batch."""
    from core.store import StoreUnavailable
    s = InfluxStore(influx_url, catalogue)
    batch = [reading(catalogue, "1462A", T0, {"pm25": 10.0})]
    try:
        httpx.post(f"{influxdb_server.url}/query", data={"q": f'DROP DATABASE "{s.db}"'})
        with pytest.raises(StoreUnavailable, match="not found"):
            s.write(batch)
        s.write(batch)
        assert len(s.raw("air", ["1462A"], ["pm25"], T0, T0 + timedelta(hours=1))) == 1
    finally:
        s.close()
    kept = InfluxStore(influx_url, catalogue, create_db=False)
    try:
        httpx.post(f"{influxdb_server.url}/query", data={"q": f'DROP DATABASE "{kept.db}"'})
        for _ in range(2):           # not ours to recreate: unavailable until someone does
            with pytest.raises(StoreUnavailable):
                kept.write(batch)
    finally:
        kept.close()


def test_influxdb_type_conflict_refuses_only_the_conflicting_point(influx_url, catalogue):
    """Another writer typed pm25_flag as a float in this shard: the reading with a pm25 flag
    is refused (StoreRejected, a partial write), the others of the same shard are stored."""
    from core.store import StoreRejected
    s = InfluxStore(influx_url, catalogue)
    try:
        s.write_lines([f"air,city=xian,period=PT1H,station=PRE pm25_flag=1.0 "
                       f"{int(T0.timestamp())}"])
        batch = [reading(catalogue, st, T0 + timedelta(hours=h), {"pm25": 10.0 + h},
                         {"pm25": "M"} if (st, h) == ("1463A", 2) else None)
                 for st in AIR[:3] for h in range(4)]
        with pytest.raises(StoreRejected, match="field type conflict"):
            s.write(batch)
        got = s.raw("air", list(AIR[:3]), ["pm25"], T0, T0 + timedelta(hours=4))
        assert len(got) == len(batch) - 1
    finally:
        s.close()
