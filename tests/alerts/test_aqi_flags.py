"""Issue 16 item 7 in the real-time rules: a T-flagged value (above the instrument's range)
is a lower bound of the true value. It raises or holds a threshold level, never lowers or
clears one, and the evidence says so."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from alerts import parse_rules
from core.wire import Reading

T0 = datetime(2026, 1, 10, 2, 0, tzinfo=timezone.utc)
RULE = {"id": "r", "type": "threshold", "kind": "air.realtime", "parameter": "pm25",
        "duration": "10m", "data_window": "30m", "max_gap": "1h",
        "levels": [{"level": "yellow", "above": 150, "clear_below": 100},
                   {"level": "red", "above": 250, "clear_below": 200}]}


def _run(catalogue, values):
    rule = parse_rules({"rule": [RULE]}, catalogue).rules["r"]
    state, out = {}, []
    for i, v in enumerate(values):
        v, flag = v if isinstance(v, tuple) else (v, None)
        r = Reading("1462A", "xian", "air", T0 + timedelta(minutes=5 * i), "PT5M",
                    {"pm25": float(v)}, {"pm25": flag} if flag else {})
        out.append(rule.step("station:1462A", state, r))
    return out


@pytest.mark.parametrize(("values", "want"), [
    # readings 5 min apart, duration 10 min: the 3rd reading above 250 fires red
    pytest.param([300, 300, 300, 150, 150, 150], ["red", "red", "red", "yellow", "yellow",
                                                  "yellow"], id="normal-150-lowers-red"),
    # the same 150s flagged T: "at least 150" cannot show the value fell below 200
    pytest.param([300, 300, 300, (150, "T"), (150, "T"), (150, "T")], ["red"] * 6,
                 id="t-150-holds-red"),
    # T values above the threshold raise as any value does
    pytest.param([(300, "T"), (300, "T"), (300, "T")], ["red"] * 3, id="t-300-raises"),
])
def test_a_t_value_is_a_lower_bound(catalogue, values, want):
    sigs = _run(catalogue, values)
    got = [s.level for s in sigs]
    # pending levels count as the level they are heading for
    assert got == want


def test_evidence_marks_a_lower_bound_value(catalogue):
    *_, last = _run(catalogue, [300, 300, 300, (150, "T")])
    assert last.evidence["value"] == 150 and last.evidence["value_is_lower_bound"] is True
    *_, plain = _run(catalogue, [300, 300, 300, 150])
    assert "value_is_lower_bound" not in plain.evidence
