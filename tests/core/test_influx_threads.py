"""The InfluxDB store used from many threads at once, against a real InfluxDB 1.6.

One httpx client shared by all threads once lost a connection in the middle of a reply under
200 concurrent readers (EBADF); every answer here is checked, not just counted.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from core.store import InfluxStore, StoreUnavailable
from core.wire import Reading

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
HOURS = 48


def _value(i: int, h: int) -> float:
    return i * 1000 + h + 0.25  # which station and hour, readable from the value


@pytest.fixture
def loaded(influx_url, catalogue):
    stations = [s for s in catalogue.stations.values() if s.kind == "air"][:20]
    store = InfluxStore(influx_url, catalogue)
    store.write([Reading(s.id, s.city, "air", T0 + timedelta(hours=h), "PT1H",
                         {"pm25": _value(i, h)}, {"pm25": "C"} if h % 7 == 0 else {})
                 for i, s in enumerate(stations) for h in range(HOURS)])
    yield store, stations
    store.close()


def _check_raw(store, stations, n: int) -> None:
    i = n % len(stations)
    lo = n % 24
    df = store.raw("air", [stations[i].id], ["pm25"], T0 + timedelta(hours=lo),
                   T0 + timedelta(hours=HOURS))
    assert df["station"].tolist() == [stations[i].id] * (HOURS - lo)
    assert df["pm25"].tolist() == [_value(i, h) for h in range(lo, HOURS)]
    assert df["pm25_flag"].tolist() == ["C" if h % 7 == 0 else "N" for h in range(lo, HOURS)]


def _check_aggregate(store, stations, n: int) -> None:
    i = n % len(stations)
    df = store.aggregate("air", ["pm25"], T0, T0 + timedelta(hours=HOURS), every="1h",
                         keys=[stations[i].id])
    assert df["pm25_mean"].tolist() == [_value(i, h) for h in range(HOURS)]
    assert df["pm25_count"].tolist() == [1] * HOURS


def test_two_hundred_threads_get_every_answer_right(loaded):
    store, stations = loaded
    start = threading.Barrier(200)

    def work(k: int) -> int:
        start.wait(30)
        for n in range(k * 2, k * 2 + 2):
            (_check_raw if n % 3 else _check_aggregate)(store, stations, n)
        return k
    with ThreadPoolExecutor(200) as pool:
        assert sorted(pool.map(work, range(200))) == list(range(200))


def test_writers_and_readers_side_by_side(loaded):
    store, stations = loaded
    later = T0 + timedelta(days=10)

    def write(k: int) -> None:
        s = stations[k % len(stations)]
        store.write([Reading(s.id, s.city, "air", later + timedelta(hours=k), "PT1H",
                             {"pm25": float(k)}, {})])

    def read(k: int) -> None:
        _check_raw(store, stations, k)
    with ThreadPoolExecutor(64) as pool:
        list(pool.map(lambda k: (write if k % 2 else read)(k), range(200)))
    df = store.raw("air", [s.id for s in stations], ["pm25"], later, later + timedelta(days=30))
    assert sorted(df["pm25"].tolist()) == [float(k) for k in range(1, 200, 2)]


def test_clients_of_finished_threads_are_closed(loaded):
    store, stations = loaded
    for k in range(30):  # thirty short-lived threads, one query each
        t = threading.Thread(target=_check_raw, args=(store, stations, k))
        t.start()
        t.join()
    _check_raw(store, stations, 0)
    # a finished thread's client is closed when the next thread makes one: at most the
    # last thread's is left beside this thread's
    assert len(store._clients) <= 2


def test_close_while_threads_query_ends_in_store_errors_only(loaded):
    store, stations = loaded
    outcomes: list[str] = []

    def work(k: int) -> None:
        for n in range(20):
            try:
                _check_raw(store, stations, k + n)
                outcomes.append("ok")
            except StoreUnavailable:
                outcomes.append("unavailable")
    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(work, k) for k in range(16)]
        while len(outcomes) < 20:
            threading.Event().wait(0.01)
        store.close()
        for f in futures:
            f.result()  # anything but StoreUnavailable (or a wrong answer) fails here
    assert "ok" in outcomes and outcomes[-1] == "unavailable"
    with pytest.raises(StoreUnavailable):
        store.raw("air", [stations[0].id], ["pm25"], T0, T0 + timedelta(hours=1))
