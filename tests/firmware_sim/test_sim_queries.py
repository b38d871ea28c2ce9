"""The simulated gauge answers SL 651 38 period queries from its history: the query the agent's
codec encodes is read back exactly, and the answer decodes to one value per asked hour up to the
unit's own time (property-based, fixed budget)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.protocols import sl651
from firmware_sim import Simulation, load_scenario, shift_scenario
from firmware_sim._rtu import parse_period_query

T0 = datetime(2026, 12, 11, tzinfo=timezone.utc)
_UNIT = []


def _unit():
    if not _UNIT:
        sim = Simulation(shift_scenario(load_scenario("winter-episode"), T0), seed=1,
                         station_ids=["lintong"])
        _UNIT.append(sim.devices(("hydro",))[0])
    return _UNIT[0]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.integers(0, 96), st.integers(0, 72), st.sampled_from([1, 2, 3, 6]),
       st.sampled_from(["stage", "discharge"]), st.integers(0, 200))
def test_period_query_round_trip_and_answer(first_h, span_h, step_h, element, now_h):
    begin = T0 + timedelta(hours=first_h)
    end = begin + timedelta(hours=span_h)
    q = sl651.encode_query_period("0041102500", sent=T0, begin=begin, end=end,
                                  step=timedelta(hours=step_h), element=element)
    (frame,) = sl651.StreamDecoder().feed(q)
    start, stop, step, ident = parse_period_query(frame.body)
    assert (start, stop, step) == (begin.timestamp(), end.timestamp(), step_h * 3600.0)
    assert ident == {"stage": 0x39, "discharge": 0x27}[element]
    unit = _unit()
    unit.t = (T0 + timedelta(hours=now_h)).timestamp()
    answers = unit._period_answer(frame.body)
    # hours asked: begin, begin + step ... up to end, and not after the unit's own time
    want = [begin + timedelta(hours=k) for k in range(0, span_h + 1, step_h)
            if begin + timedelta(hours=k) <= T0 + timedelta(hours=now_h)]
    got = []
    for item in sl651.StreamDecoder().feed(b"".join(answers)):
        assert isinstance(item, sl651.Frame) and item.function == 0x38
        got += [o["ts"] for o in sl651.observations(item) if element in o["values"]]
    assert got == want
