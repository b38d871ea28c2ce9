"""Data-quality rules over a store: stuck values, C/M overruns, city completeness, clock skew."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from alerts import ManualClock
from alerts.rules.liveness import EdgeStatusBoard
from core.store import open_store
from core.wire import Reading

from .conftest import open_alerts

T0 = datetime(2027, 1, 12, 2, 0, tzinfo=timezone.utc)
XIAN = ["1462A", "1463A", "1464A", "1465A"]


def _series(station, hours, value=lambda h: 40.0 + h % 5, flag=lambda h: None):
    out = []
    for h in hours:
        f = flag(h)
        out.append(Reading(station, "xian", "air", T0 - timedelta(hours=h), "PT1H",
                           {"pm25": value(h), "pm10": 80.0 + h % 7}, {"pm25": f} if f else {}))
    return out


CASES = {
    "stuck pm25": ({"id": "r", "type": "stuck_value", "kind": "quality.stuck"},
                   lambda: _series("1462A", range(1, 9), value=lambda h: 55.0),
                   {"station:1462A"}),
    "varying values": ({"id": "r", "type": "stuck_value", "kind": "quality.stuck"},
                       lambda: _series("1462A", range(1, 9)), set()),
    "calibration 6h > 4h": ({"id": "r", "type": "flag_overrun", "kind": "quality.maintenance"},
                            lambda: _series("1462A", range(0, 6), flag=lambda h: "C"),
                            {"station:1462A"}),
    "maintenance 6h < 8h": ({"id": "r", "type": "flag_overrun", "kind": "quality.maintenance"},
                            lambda: _series("1462A", range(0, 6), flag=lambda h: "M"), set()),
    "xian 12 h of 24": ({"id": "r", "type": "city_completeness", "kind": "quality.completeness"},
                        lambda: sum((_series(s, range(1, 13)) for s in XIAN), []),
                        {"city:xian"}),
    "xian complete": ({"id": "r", "type": "city_completeness", "kind": "quality.completeness"},
                      lambda: sum((_series(s, range(1, 25)) for s in XIAN), []), set()),
}


@pytest.mark.parametrize("rule,data,want", CASES.values(), ids=CASES.keys())
def test_quality_rules(make_service, catalogue, rule, data, want):
    store = open_store("duckdb://:memory:", catalogue)
    store.write(data())
    clock = ManualClock(T0 + timedelta(minutes=5))
    svc = make_service([rule], store, clock, edge_status=EdgeStatusBoard(clock))
    svc.run_periodic()
    assert {a["subject"] for a in open_alerts(svc)} == want


def test_clock_skew_reported_by_an_edge_raises_and_clears(make_service, catalogue):
    clock = ManualClock(T0)
    board = EdgeStatusBoard(clock)
    svc = make_service([{"id": "skew", "type": "clock_skew", "kind": "quality.clock"}],
                       open_store("duckdb://:memory:", catalogue), clock, edge_status=board)
    board.update("1470A", {"state": "online", "agent": "gw", "counters": {"qc.clock_skew": 0}})
    svc.run_periodic()
    assert open_alerts(svc) == []
    clock.advance(timedelta(minutes=15))
    board.update("1470A", {"state": "online", "agent": "gw", "counters": {"qc.clock_skew": 12}})
    svc.run_periodic()
    assert [a["subject"] for a in open_alerts(svc)] == ["station:1470A"]
    clock.advance(timedelta(hours=1))                   # no new skewed packets
    svc.run_periodic()
    assert open_alerts(svc) == []
