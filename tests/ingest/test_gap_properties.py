"""Property: the runs of missing slots are exactly the grid slots between the first and last
present slot that are not present, in order, each at most ``max_span_s`` long."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest._gaps import missing_runs

P = 3600


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.sets(st.integers(0, 400), min_size=0, max_size=60), st.integers(1, 50))
def test_runs_cover_exactly_the_missing_slots(hours, span_h):
    slots = sorted(h * P for h in hours)
    runs = missing_runs(slots, P, span_h * P)
    covered = [t for a, b in runs for t in range(a, b + P, P)]
    expected = [t for t in range(slots[0], slots[-1], P) if t not in set(slots)] if slots else []
    assert covered == expected                        # disjoint, in order, nothing else
    assert all(a <= b and (b - a) // P + 1 <= span_h for a, b in runs)
