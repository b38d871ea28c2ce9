"""Completeness: seq gaps injected at the sender are reported with the right range,
survive a restart without false gaps; duplicates, late arrivals and % of expected."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from core.store import open_store
from core.wire import encode, reading_dict, readings_topic
from ingest import IngestConfig, Ingestor, Tracker
from ingest._loadgen import Publisher, air_values

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
T0 = datetime(2026, 3, 1, 0, 0, tzinfo=timezone.utc)


def _msg(seq: int, hour: int, station: str = "1462A") -> tuple[str, bytes]:
    rows = [reading_dict(T0 + timedelta(minutes=15 * hour), "PT1H", air_values(hour))]
    return readings_topic("xian", "air", station), encode(station, seq, rows)


def _run(mosquitto, catalogue, state, items, client_id="t-gaps") -> Ingestor:
    cfg = IngestConfig(mqtt_url=mosquitto.url, store_url="duckdb://:memory:",
                       state_path=state, client_id=client_id, batch_ms=20)
    ing = Ingestor(cfg, catalogue=catalogue, store=open_store("duckdb://:memory:", catalogue),
                   clock=NOW.timestamp).start()
    assert ing.subscribed.wait(10)
    pub = Publisher(mosquitto.url, "t-gaps-pub", max_inflight=100)
    pub.send(items)
    assert pub.wait_acked(10)
    pub.close()
    deadline = time.monotonic() + 10
    while ing.stats()["acked"] < len(items) and time.monotonic() < deadline:
        time.sleep(0.05)
    return ing


def test_gap_reported_with_its_range_and_survives_restart(mosquitto, catalogue, tmp_path):
    state = tmp_path / "state.sqlite"
    sent = [s for s in range(100) if not 40 <= s <= 49]
    ing = _run(mosquitto, catalogue, state, [_msg(s, s) for s in sent])
    try:
        assert ing.gaps("1462A") == [(40, 49)]
        assert ing.station_report("1462A")["missing_total"] == 10
        assert ing.gaps("1463A") == []
        assert "fenwei_ingest_missing_seq_total 10.0" in ing.metrics.text().decode()
    finally:
        ing.stop()
    # restart: the state file says where the station was, so no false gap; a late
    # message fills the gap; a repeated one counts as a duplicate
    ing = _run(mosquitto, catalogue, state, [_msg(s, s) for s in (100, 101, 45, 101)])
    try:
        rep = ing.station_report("1462A")
        assert rep["gaps"] == [(40, 44), (46, 49)]
        assert (rep["filled_total"], rep["duplicates"]) == (1, 1), (rep, ing.stats())
        assert rep["late"] >= 1
    finally:
        ing.stop()


def test_completeness_over_the_window(catalogue):
    tr = Tracker(catalogue, window_s=86_400, clock=NOW.timestamp)
    day = NOW - timedelta(days=1)
    from core.wire import decode
    for h in range(24):
        if h % 4 == 0:
            continue                            # 6 of 24 hourly readings missing
        topic, payload = _msg(h, 0)
        rows = [reading_dict(day + timedelta(hours=h), "PT1H", air_values(h))]
        b = decode(topic, encode("1462A", h, rows), catalogue, now=NOW.timestamp())
        tr.observe(b.station, b.seq, b.readings)
    assert tr.completeness("1462A") == pytest.approx(75.0)
    assert tr.completeness("1462A", window_s=12 * 3600) == pytest.approx(75.0)
    assert tr.completeness("1463A") == 0.0
    assert tr.completeness("NOPE") is None
    # seq 0 was never seen: a stream is tracked from its first message
    assert tr.report("1462A")["gaps"] == [(4, 4), (8, 8), (12, 12), (16, 16), (20, 20)]


@pytest.mark.parametrize("seqs, gaps, dups", [
    pytest.param([0, 1, 2, 3], [], 0, id="in-order"),
    pytest.param([0, 5, 6], [(1, 4)], 0, id="one-gap"),
    pytest.param([0, 5, 3, 1, 2, 4], [], 0, id="filled-out-of-order"),
    pytest.param([0, 1, 1, 0], [], 1, id="duplicate-then-reset"),
    pytest.param([7, 9, 12], [(8, 8), (10, 11)], 0, id="start-mid-stream"),
])
def test_seq_tracking(seqs, gaps, dups, catalogue):
    tr = Tracker(catalogue, clock=NOW.timestamp)
    for s in seqs:
        tr.observe("1462A", s, [])
    assert tr.gaps("1462A") == gaps
    assert tr.report("1462A")["duplicates"] == dups
