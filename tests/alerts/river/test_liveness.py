"""No-data alerts with a cause: one "site offline" per stopped edge agent, one "pipeline down"
when ingest stops, cleared by restarting. Real Mosquitto, a real edge agent and a real
Ingestor (stopped and restarted between the broker and the store); PostgreSQL state for the
pipeline case; the alert clock is injected."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from alerts import ManualClock
from alerts.rules.liveness import EdgeStatusBoard
from core.store import open_store
from core.wire import Reading

from .conftest import open_alerts, recipients_of
from .river_helpers import site_agent

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
    return site_agent(tmp_path, mqtt_url, "gw-tongchuan", SITE)


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


def _publish(mqtt_url: str, stations, hours: list[datetime], seq0: int) -> None:
    """What the sites' edge agents send: one hourly wire-format message per station and hour."""
    from core.catalogue import load_catalogue
    from core.wire import encode, reading_dict, readings_topic
    from ingest._loadgen import Publisher
    cat = load_catalogue()
    items = [(readings_topic(cat.stations[s].city, "air", s),
              encode(s, seq0 + i, [reading_dict(h, "PT1H", {"pm25": 30.0 + i % 7})]))
             for s in stations for i, h in enumerate(hours)]
    pub = Publisher(mqtt_url, f"lv-pub-{time.time_ns() % 10**9}", max_inflight=100)
    try:
        pub.send(items)
        assert pub.wait_acked(15)
    finally:
        pub.close()


def _ingest(mosquitto, catalogue, store, clock, tmp_path):
    from ingest import IngestConfig, Ingestor
    cfg = IngestConfig(mqtt_url=mosquitto.url, state_path=tmp_path / "ingest.sqlite",
                       client_id="lv-ingest", batch_ms=20)
    ing = Ingestor(cfg, catalogue=catalogue, store=store,
                   clock=lambda: clock.now().timestamp()).start()
    assert ing.subscribed.wait(15)
    return ing


def _stored(store, stations) -> dict:
    frame = store.latest("air")
    return {s: t for s, t in zip(frame.get("station", []), frame.get("time", []))
            if s in stations}


PIPELINE_RULES = RULES + [
    {"id": "completeness", "type": "city_completeness", "kind": "quality.completeness",
     "min_hours": 24}]


def test_stopping_ingest_gives_one_pipeline_down_alert_to_operators(
        make_service, catalogue, mosquitto, pg_url, tmp_path):
    """A real Ingestor between Mosquitto and the store is stopped while the sites go on
    sending (their agent keeps reporting online), then restarted: one pipeline-down alert to
    the operators, no station, site or city alert, cleared once the queued readings land."""
    clock = ManualClock(T0)
    board = EdgeStatusBoard(clock).start(mosquitto.url)
    store = open_store("duckdb://:memory:", catalogue)
    svc = make_service(PIPELINE_RULES, store, clock, state_url=pg_url, edge_status=board)
    agent = _agent(tmp_path, mosquitto.url)
    agent.start()
    ing = _ingest(mosquitto, catalogue, store, clock, tmp_path)
    stations = SITE + OTHERS
    try:
        assert _wait(lambda: _states(board) == {s: "online" for s in SITE})
        _publish(mosquitto.url, stations, [T0 - timedelta(hours=h) for h in range(27, -1, -1)],
                 seq0=0)
        assert _wait(lambda: set(_stored(store, stations).values()) == {T0})
        svc.run_periodic()
        assert open_alerts(svc) == []

        ing.stop()                                     # ingest down; the sites go on sending
        clock.set(T0 + timedelta(hours=4))
        _publish(mosquitto.url, stations, [T0 + timedelta(hours=h) for h in (1, 2, 3, 4)],
                 seq0=28)
        assert _wait(lambda: all(board.snapshot()[s].received_at == clock.now()
                                 for s in SITE))       # the agent still reports, after the jump
        assert set(_stored(store, stations).values()) == {T0}   # nothing written meanwhile
        svc.run_periodic()
        (alert,) = open_alerts(svc)                    # one alert: not ten stations, no site,
        assert (alert["kind"], alert["subject"]) == ("liveness.pipeline_down", "pipeline:ingest")
        assert alert["evidence"]["silent"] == alert["evidence"]["monitored"] == 10
        assert alert["evidence"]["agents_reporting"] == ["gw-tongchuan"]
        assert recipients_of(svc, alert["id"]) == ["ops-platform"]   # not the city teams
        assert {svc.subject_status("completeness", f"city:{c}")["status"]
                for c in ("baoji", "tongchuan", "xian")} == {"insufficient"}  # no city alert

        ing = _ingest(mosquitto, catalogue, store, clock, tmp_path)     # restart
        assert _wait(lambda: set(_stored(store, stations).values()) == {T0 + timedelta(hours=4)})
        svc.run_periodic()
        assert open_alerts(svc) == []
        assert svc.alert(alert["id"])["state"] == "resolved"
        assert [a["subject"] for a in svc.alerts()] == ["pipeline:ingest"]   # the only one ever
    finally:
        ing.stop()
        agent.stop()
        board.stop()


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
