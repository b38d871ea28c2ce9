"""Identical reads in flight at once share one query (core.store's single flight), each
caller with its own copy; a read after a write never shares an answer begun before it."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pandas as pd

from core.store import open_store
from core.store._flight import Flights
from core.wire import Reading

T0 = datetime(2026, 11, 20, tzinfo=timezone.utc)


def _until(predicate, what: str) -> None:
    deadline = time.monotonic() + 10
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.001)


def _held_read(flights: Flights, key, release: threading.Event, calls: list):
    def read():
        calls.append(1)
        release.wait(10)
        return pd.DataFrame({"v": [len(calls)]})
    return lambda: flights.do(key, read)


def test_identical_reads_at_once_share_one_query_each_with_its_own_copy():
    flights, release, calls = Flights(), threading.Event(), []
    ask = _held_read(flights, ("raw", "1462A"), release, calls)
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(ask)
        _until(lambda: calls, "the first read did not start")
        others = [pool.submit(ask) for _ in range(2)]
        _until(lambda: flights.shared == 2, "the identical reads did not join")
        release.set()
        frames = [f.result() for f in (first, *others)]
    assert len(calls) == 1                               # one query for three callers
    assert [int(f["v"].iat[0]) for f in frames] == [1, 1, 1]
    frames[0].loc[0, "v"] = 99                           # a caller changes its own copy
    assert int(frames[1]["v"].iat[0]) == 1
    frames[1].loc[0, "v"] = 98                           # the first caller's is its own too
    assert [int(f["v"].iat[0]) for f in frames] == [99, 98, 1]


def test_a_read_nobody_joined_returns_its_answer_uncopied():
    flights, made = Flights(), []

    def read():
        made.append(pd.DataFrame({"v": [7]}))
        return made[-1]
    assert flights.do(("raw", "1462A"), read) is made[0]     # nobody else holds it
    assert flights.do(("raw", "1462A"), read) is made[1]     # a later read asks again


def test_a_read_after_a_write_does_not_share_an_older_answer():
    flights, release, calls = Flights(), threading.Event(), []
    ask = _held_read(flights, ("raw", "1462A"), release, calls)
    with ThreadPoolExecutor(2) as pool:
        before = pool.submit(ask)
        _until(lambda: calls, "the first read did not start")
        flights.wrote()                                  # a write returned meanwhile
        after = pool.submit(ask)
        _until(lambda: len(calls) == 2, "the later read did not ask for itself")
        release.set()
        assert int(before.result()["v"].iat[0]) >= 1 and after.result() is not None
    assert flights.shared == 0


def test_different_reads_and_errors_are_not_shared():
    flights = Flights()
    assert int(flights.do(("a",), lambda: pd.DataFrame({"v": [1]}))["v"].iat[0]) == 1
    assert int(flights.do(("b",), lambda: pd.DataFrame({"v": [2]}))["v"].iat[0]) == 2

    def fail():
        raise ValueError("bad query")
    try:
        flights.do(("a",), fail)
    except ValueError as exc:
        assert str(exc) == "bad query"
    else:
        raise AssertionError("the error was not raised")
    assert flights.shared == 0


def test_the_store_reads_its_own_write(tmp_path, catalogue):
    # through the DuckDB adapter: write, read, write again, read: each read sees every
    # write that returned before it
    store = open_store(f"duckdb://{tmp_path / 's.duckdb'}", catalogue)
    try:
        def read():
            return store.raw("air", ["1462A"], ["pm25"], T0, T0 + timedelta(hours=3))
        store.write([Reading("1462A", "xian", "air", T0, "PT1H", {"pm25": 10.0})])
        assert read()["pm25"].tolist() == [10.0]
        store.write([Reading("1462A", "xian", "air", T0 + timedelta(hours=1), "PT1H",
                             {"pm25": 20.0})])
        got = read()
        assert got["pm25"].tolist() == [10.0, 20.0]
        assert got["pm25_flag"].tolist() == ["N", "N"]
    finally:
        store.close()
