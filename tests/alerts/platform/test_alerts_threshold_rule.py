"""The generic streaming threshold rule, table-driven: duration, hysteresis, levels, flags."""
from __future__ import annotations

from datetime import timedelta

import pytest

from alerts import parse_rules

from alerts_platform_helpers import T0, reading

BASE = {"id": "r", "type": "threshold", "kind": "air.realtime", "parameter": "pm25",
        "duration": "10m", "data_window": "30m", "max_gap": "1h",
        "levels": [{"level": "yellow", "above": 150, "clear_below": 100},
                   {"level": "red", "above": 250, "clear_below": 200}]}


def _rule(catalogue, **over):
    return parse_rules({"rule": [{**BASE, **over}]}, catalogue).rules["r"]


def _run(rule, values, station="1462A", step=5):
    state, out = {}, []
    subject = f"station:{station}"
    for i, v in enumerate(values):
        v, flag = v if isinstance(v, tuple) else (v, None)
        sig = rule.step(subject, state, reading(station, T0 + timedelta(minutes=step * i), v,
                                                flag=flag))
        out.append((sig.status, sig.level) if sig else None)
    return out


CASES = [
    ("below stays clear", [100, 120, 140], [("clear", None)] * 3),
    ("pending until duration", [160, 170, 180],
     [("pending", "yellow"), ("pending", "yellow"), ("firing", "yellow")]),
    ("short spike never fires", [160, 90, 160, 90],
     [("pending", "yellow"), ("clear", None), ("pending", "yellow"), ("clear", None)]),
    ("hysteresis holds between clear and threshold", [160, 170, 180, 140, 110, 95],
     [("pending", "yellow"), ("pending", "yellow"), ("firing", "yellow"),
      ("firing", "yellow"), ("firing", "yellow"), ("clear", None)]),
    ("upgrade then downgrade via clear_below", [300, 300, 300, 240, 210, 190, 150, 90],
     [("pending", "red"), ("pending", "red"), ("firing", "red"), ("firing", "red"),
      ("firing", "red"), ("firing", "yellow"), ("firing", "yellow"), ("clear", None)]),
    ("invalid values ignored: insufficient not clear", [(120, "D"), (400, "M"), (400, "C")],
     [("insufficient", None)] * 3),
    ("invalid values neither confirm nor break a run", [160, (400, "D"), (400, "F"), 170],
     [("pending", "yellow"), ("pending", "yellow"), ("insufficient", None),
      ("firing", "yellow")]),
    ("T flag (above range) counts", [(400, "T"), (400, "T"), (400, "T")],
     [("pending", "red"), ("pending", "red"), ("firing", "red")]),
]


@pytest.mark.parametrize("values,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_threshold_sequences(catalogue, values, expected):
    assert _run(_rule(catalogue), values) == expected


def test_duplicate_and_out_of_order_readings_change_nothing(catalogue):
    rule = _rule(catalogue)
    state = {}
    r1 = reading("1462A", T0, 200)
    assert rule.step("station:1462A", state, r1).status == "pending"
    before = repr(state)
    assert rule.step("station:1462A", state, r1) is None
    assert rule.step("station:1462A", state, reading("1462A", T0 - timedelta(minutes=5),
                                                     400)) is None
    assert repr(state) == before


def test_clear_for_and_min_hold(catalogue):
    rule = _rule(catalogue, duration="0s", clear_for="10m", min_hold="30m")
    seq = _run(rule, [200, 90, 90, 90, 90, 90, 90, 90])
    assert seq[:6] == [("firing", "yellow")] * 6          # held 30 min from the first reading
    assert seq[6] == ("clear", None)


def test_per_city_needs_min_stations(catalogue):
    rule = _rule(catalogue, per="city", duration="0s", min_stations=2)
    state = {}
    s1 = rule.step("city:xian", state, reading("1462A", T0, 200))
    assert s1.status == "pending"
    s2 = rule.step("city:xian", state, reading("1463A", T0 + timedelta(minutes=1), 210))
    assert (s2.status, s2.level) == ("firing", "yellow")
    assert s2.evidence["stations"] == ["1462A", "1463A"]
    assert list(rule.subjects(reading("1462A", T0, 1))) == ["city:xian"]


def test_no_data_for_max_gap_is_insufficient_on_tick(catalogue):
    rule = _rule(catalogue)
    state = {}
    rule.step("station:1462A", state, reading("1462A", T0, 120))
    assert rule.on_tick("station:1462A", state, T0 + timedelta(minutes=30)) is None
    sig = rule.on_tick("station:1462A", state, T0 + timedelta(hours=2))
    assert sig.status == "insufficient"


def test_bad_rule_config_names_the_rule(catalogue):
    from alerts.errors import ConfigError
    with pytest.raises(ConfigError, match="rule r"):
        parse_rules({"rule": [{**BASE, "levels": [{"level": "purple", "above": 1}]}]}, catalogue)
    with pytest.raises(ConfigError, match="unknown type"):
        parse_rules({"rule": [{**BASE, "type": "nope"}]}, catalogue)
