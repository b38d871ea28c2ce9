"""The ``station_offline`` rule type: a station whose newest reading is older than ``after``
(or that never reported) is offline; a fresh reading lifts it. A real (in-memory DuckDB)
store, the alert clock injected."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from alerts import ManualClock
from core.store import open_store
from core.wire import Reading

from .conftest import open_alerts, recipients_of

T0 = datetime(2027, 1, 12, 2, 0, tzinfo=timezone.utc)
RULE = {"id": "air-offline", "type": "station_offline", "kind": "liveness.station_offline",
        "station_kind": "air", "cities": ["xian"], "after": "2h", "level": "blue"}


def _write(store, catalogue, station: str, at: datetime) -> None:
    st = catalogue.stations[station]
    store.write([Reading(station, st.city, "air", at, "PT1H", {"pm25": 40.0}, {})])


def test_station_offline_after_its_silence_and_lifted_by_a_reading(make_service, catalogue):
    xian = sorted(s.id for s in catalogue.stations.values()
                  if s.kind == "air" and s.city == "xian")
    fresh, boundary, stale, *never = xian
    store = open_store("duckdb://:memory:", catalogue)
    _write(store, catalogue, fresh, T0 - timedelta(minutes=30))
    _write(store, catalogue, boundary, T0 - timedelta(hours=2))     # exactly `after`: not yet
    _write(store, catalogue, stale, T0 - timedelta(hours=3))
    clock = ManualClock(T0)
    svc = make_service([RULE], store, clock)

    svc.run_periodic("air-offline")
    offline = {a["subject"]: a for a in open_alerts(svc, "air-offline")}
    assert set(offline) == {f"station:{s}" for s in [stale, *never]}
    ev = offline[f"station:{stale}"]["evidence"]
    assert ev == {"station": stale, "last_reading": (T0 - timedelta(hours=3)).isoformat(),
                  "after_s": 7200.0}
    assert offline[f"station:{never[0]}"]["evidence"]["last_reading"] is None
    assert {a["level"] for a in offline.values()} == {"blue"}
    assert recipients_of(svc, offline[f"station:{stale}"]["id"]) == ["ops-platform",
                                                                     "team-xian"]

    clock.advance(timedelta(minutes=10))           # the stale station reports again
    _write(store, catalogue, stale, clock.now() - timedelta(minutes=1))
    svc.run_periodic("air-offline")
    still = {a["subject"] for a in open_alerts(svc, "air-offline")}
    assert f"station:{stale}" not in still
    assert f"station:{boundary}" in still          # now past its two hours
    (lifted,) = [a for a in svc.alerts(rule_id="air-offline")
                 if a["subject"] == f"station:{stale}"]
    assert lifted["state"] == "resolved"


def test_other_cities_and_kinds_are_not_watched(make_service, catalogue):
    store = open_store("duckdb://:memory:", catalogue)
    svc = make_service([RULE], store, ManualClock(T0))
    svc.run_periodic("air-offline")
    subjects = {a["subject"].split(":", 1)[1] for a in open_alerts(svc, "air-offline")}
    assert subjects and all(catalogue.stations[s].city == "xian" and
                            catalogue.stations[s].kind == "air" for s in subjects)
