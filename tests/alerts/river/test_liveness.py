"""No-data alerts with a cause: one "site offline" per stopped edge agent, one "pipeline down"
when ingest stops, cleared by restarting. Real Mosquitto and a real edge agent; PostgreSQL state
for the pipeline case."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from alerts import ManualClock
from alerts.rules.liveness import EdgeStatusBoard
from core.store import open_store
from core.wire import Reading
from edge.agent import EdgeAgent, parse_config

from .conftest import open_alerts, recipients_of

T0 = datetime(2027, 1, 12, 2, 0, tzinfo=timezone.utc)
SITE = ["SIM-TONGCH-01", "SIM-TONGCH-02", "SIM-TONGCH-03", "SIM-TONGCH-04"]
OTHERS = ["SIM-BAOJI-01", "SIM-BAOJI-02", "SIM-BAOJI-03", "SIM-BAOJI-04", "1462A", "1463A"]
RULES = [
    {"id": "silent", "type": "station_silent", "kind": "liveness.station_silent"},
    {"id": "site", "type": "site_offline", "kind": "liveness.site_offline", "level": "yellow"},
    {"id": "pipeline", "type": "pipeline_down", "kind": "liveness.pipeline_down",
     "level": "orange"},
]


def _feed(store, stations, at: datetime) -> None:
    """What ingest would write: one hourly reading per station."""
    from core.catalogue import load_catalogue
    cat = load_catalogue()
    store.write([Reading(s, cat.stations[s].city, "air", at, "PT1H", {"pm25": 40.0}, {})
                 for s in stations])


def _wait(pred, timeout=15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def _agent(tmp_path, mqtt_url):
    cfg = parse_config({
        "agent_id": "gw-tongchuan", "data_dir": str(tmp_path / "agent"),
        "hj212": {"host": "127.0.0.1", "port": 0}, "sl651": {"host": "127.0.0.1", "port": 0},
        "mqtt": {"status_interval_s": 1.0, "backoff_initial_s": 0.2, "backoff_max_s": 1.0,
                 "client_id_prefix": f"lv{time.time_ns() % 10**9}"},
        "devices": [{"protocol": "hj212", "station": s, "mn": f"MN{i:022d}", "password": "123456"}
                    for i, s in enumerate(SITE)]})
    return EdgeAgent(cfg, mqtt_url=mqtt_url)


def _states(board):
    return {s: st.state for s, st in board.snapshot().items() if s in SITE}


def test_stopping_one_edge_agent_gives_one_site_offline_alert(make_service, catalogue,
                                                              mosquitto, tmp_path):
    clock = ManualClock(T0)
    board = EdgeStatusBoard(clock).start(mosquitto.url)
    store = open_store("duckdb://:memory:", catalogue)
    svc = make_service(RULES, store, clock, edge_status=board)
    agent = _agent(tmp_path, mosquitto.url)
    agent.start()
    try:
        assert _wait(lambda: _states(board) == {s: "online" for s in SITE})
        _feed(store, SITE + OTHERS, T0 - timedelta(minutes=30))
        svc.run_periodic()
        assert open_alerts(svc) == []
    finally:
        agent.stop()
    assert _wait(lambda: _states(board) == {s: "offline" for s in SITE})
    clock.set(T0 + timedelta(hours=4))                 # the site's stations are silent now
    _feed(store, OTHERS, clock.now() - timedelta(minutes=20))
    svc.run_periodic()
    (alert,) = open_alerts(svc)                        # one alert, not one per device
    assert (alert["kind"], alert["subject"]) == ("liveness.site_offline", "site:gw-tongchuan")
    assert alert["evidence"]["stations"] == SITE and alert["cities"] == ["tongchuan"]
    assert recipients_of(svc, alert["id"]) == ["ops-platform", "team-tongchuan"]

    agent = _agent(tmp_path, mosquitto.url)            # restart
    agent.start()
    try:
        assert _wait(lambda: _states(board) == {s: "online" for s in SITE})
        _feed(store, SITE + OTHERS, clock.now() - timedelta(minutes=5))
        svc.run_periodic()
        assert open_alerts(svc) == []
        assert svc.alert(alert["id"])["state"] == "resolved"
    finally:
        agent.stop()
        board.stop()


def test_stopping_ingest_gives_one_pipeline_down_alert_to_operators(make_service, catalogue,
                                                                     pg_url):
    clock = ManualClock(T0)
    board = EdgeStatusBoard(clock)                     # the agents keep reporting: sites are up
    for s in SITE:
        board.update(s, {"state": "online", "agent": "gw-tongchuan"})
    store = open_store("duckdb://:memory:", catalogue)
    svc = make_service(RULES, store, clock, state_url=pg_url, edge_status=board)
    _feed(store, SITE + OTHERS, T0 - timedelta(minutes=10))
    svc.run_periodic()
    assert open_alerts(svc) == []

    clock.set(T0 + timedelta(hours=4))                 # ingest stopped: nothing is written
    for s in SITE:
        board.update(s, {"state": "online", "agent": "gw-tongchuan"})
    svc.run_periodic()
    (alert,) = open_alerts(svc)                        # one alert, not ten station alerts
    assert (alert["kind"], alert["subject"]) == ("liveness.pipeline_down", "pipeline:ingest")
    assert alert["evidence"]["silent"] == alert["evidence"]["monitored"] == 10
    assert recipients_of(svc, alert["id"]) == ["ops-platform"]   # not the city teams

    _feed(store, SITE + OTHERS, clock.now() - timedelta(minutes=2))   # ingest restarted
    svc.run_periodic()
    assert open_alerts(svc) == []
    assert svc.alert(alert["id"])["state"] == "resolved"


@pytest.mark.parametrize("silent,want", [
    (["1462A"], {("liveness.station_silent", "station:1462A")}),
    ([], set()),
], ids=["one station silent", "none"])
def test_one_silent_station_is_a_station_alert(make_service, catalogue, silent, want):
    clock = ManualClock(T0 + timedelta(hours=4))
    store = open_store("duckdb://:memory:", catalogue)
    svc = make_service(RULES, store, clock, edge_status=EdgeStatusBoard(clock))
    _feed(store, OTHERS + SITE, T0)
    _feed(store, [s for s in OTHERS + SITE if s not in silent], clock.now())
    svc.run_periodic()
    assert {(a["kind"], a["subject"]) for a in open_alerts(svc)} == want
