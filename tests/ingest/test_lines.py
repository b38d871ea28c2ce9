"""The ingest's batch line protocol (ingest/_lines.py) writes the points core.store.lines
writes (docs/influxdb-schema.md): same measurement, tags, float values, flags (N included)
and time; a real InfluxDB reads back the same float64 values, flags and times."""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.store import lines as store_lines, open_store
from core.wire import Reading
from ingest._lines import BatchLines, store_writer

T0 = datetime(2026, 11, 25, 0, 0, tzinfo=timezone.utc)   # 1795564800 s after the epoch
AIR = ("pm25", "pm10", "so2", "no2", "o3", "co", "rh")


def parse(line: str) -> tuple:
    """(measurement, tags, fields, time) of one line of line protocol (no escapes used)."""
    head, fields, ts = line.split(" ")
    measurement, *tags = head.split(",")
    out = {}
    for kv in fields.split(","):
        k, v = kv.split("=")
        out[k] = v[1:-1] if v.startswith('"') else float(v)
    return measurement, dict(t.split("=") for t in tags), out, int(ts)


def reading(i: int, values: dict, flags: dict | None = None, station: str = "1462A") -> Reading:
    return Reading(station, "xian", "air", T0 + timedelta(hours=i), "PT1H", values,
                   flags or {})


def test_one_reading_by_hand():
    # 00:00 UTC on 25 Nov 2026 is 1795564800 s; every value carries its flag, N included
    line = BatchLines().lines([reading(0, {"pm25": 156.0, "o3": 1e-7}, {"o3": "T"})])
    assert line == ['air,city=xian,period=PT1H,station=1462A '
                    'pm25=156.0,o3=1e-7,pm25_flag="N",o3_flag="T" 1795564800']


_VALUE = st.floats(allow_nan=False, allow_infinity=False, width=64) | st.integers(0, 10**6)


@settings(max_examples=200, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.dictionaries(st.sampled_from(AIR), _VALUE, min_size=1),
                          st.dictionaries(st.sampled_from(AIR), st.sampled_from("NTMB"))),
                min_size=1, max_size=20))
def test_same_points_as_core_store_lines(rows):
    readings = []
    for i, (values, flags) in enumerate(rows):
        values = {k: float(v) for k, v in values.items()}
        readings.append(reading(i, values, {k: f for k, f in flags.items()
                                            if k in values and f != "N"}))
    fast = BatchLines().lines(readings)
    assert [parse(x) for x in fast] == [parse(x) for x in store_lines(readings)]


def test_unusual_names_go_through_the_store():
    assert BatchLines().lines([reading(0, {"PM 2.5": 1.0})]) is None


def _query(url: str, q: str) -> list:
    base, db = url.replace("influxdb://", "http://").rsplit("/", 1)
    r = httpx.post(f"{base}/query", data={"q": q, "db": db, "epoch": "s"}, timeout=30)
    return r.json()["results"][0]["series"][0]["values"]


def test_influxdb_reads_back_the_same_values(influx_url, catalogue):
    # values whose shortest forms differ from repr: 1e-07 / 1e-7, 1e+20 / 1e20
    # (the store does not check ranges: the decoder does)
    values = [{"pm25": 0.1, "co": 1e-7, "o3": 123456.789},
              {"pm25": 1e20, "co": 2.5e-10, "o3": 999.9999999999999}]
    readings = [reading(0, values[0], {"co": "T"}), reading(1, values[1])]
    store = open_store(influx_url, catalogue)
    try:
        assert store_writer(store)(readings) == 2
        rows = _query(influx_url, 'SELECT "pm25", "co", "o3", "co_flag", "pm25_flag" '
                                  'FROM "air" ORDER BY time')
    finally:
        store.close()
    # times: 1795564800 and one hour later, 1795568400
    assert [r[0] for r in rows] == [1795564800, 1795568400]
    for row, v in zip(rows, values):
        assert row[1:4] == [v["pm25"], v["co"], v["o3"]]       # the same float64, exactly
    assert [r[4] for r in rows] == ["T", "N"] and [r[5] for r in rows] == ["N", "N"]
    assert not any(math.isnan(x) for r in rows for x in r[1:4])


def test_refused_write_is_decided_by_the_store(influx_url, catalogue):
    # a text value in pm25 first types the field as string in this shard: the float write
    # is refused by InfluxDB and the store's own write raises StoreRejected for the bisect
    from core.store import StoreRejected
    base, db = influx_url.replace("influxdb://", "http://").rsplit("/", 1)
    store = open_store(influx_url, catalogue)
    try:
        httpx.post(f"{base}/write", params={"db": db, "precision": "s"},
                   content=b'air,city=xian,period=PT1H,station=1462A pm25="x" 1795564800')
        with pytest.raises(StoreRejected):
            store_writer(store)([reading(0, {"pm25": 1.0})])
    finally:
        store.close()
