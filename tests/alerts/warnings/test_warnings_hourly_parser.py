"""The hourly-file parser of ``fenwei warnings grade``: property-based (fixed budget)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.warnings._hourly import HourlyInputError, hourly_series

CST = timezone(timedelta(hours=8))
BUDGET = settings(max_examples=60, deadline=None, derandomize=True,
                  suppress_health_check=[HealthCheck.too_slow])


@BUDGET
@given(st.lists(st.text(max_size=30), min_size=1, max_size=5),
       st.lists(st.text(max_size=8), min_size=1, max_size=5))
def test_any_text_is_parsed_or_refused_clearly(times, values):
    n = min(len(times), len(values))
    frame = pd.DataFrame({"time": times[:n], "aqi": values[:n]})
    try:
        series = hourly_series(frame)
    except HourlyInputError as exc:
        assert str(exc)
    else:
        assert len(series.windows) == n


@BUDGET
@given(start=st.datetimes(min_value=datetime(2013, 1, 1), max_value=datetime(2035, 1, 1)),
       values=st.lists(st.one_of(st.integers(0, 500), st.none()), min_size=1, max_size=60),
       offset_h=st.sampled_from([None, 0, 8, -5]))
def test_hourly_aqi_round_trips(start, values, offset_h):
    """Naive times are CST; an explicit offset is honoured; values and hours are kept."""
    start = start.replace(minute=0, second=0, microsecond=0)
    hours = [start + timedelta(hours=i) for i in range(len(values))]
    if offset_h is None:
        text, utc0 = [t.isoformat() for t in hours], start.replace(tzinfo=CST)
    else:
        tz = timezone(timedelta(hours=offset_h))
        text, utc0 = [t.replace(tzinfo=tz).isoformat() for t in hours], start.replace(tzinfo=tz)
    frame = pd.DataFrame({"time": text, "aqi": ["" if v is None else str(v) for v in values]})
    w = hourly_series(frame).windows
    assert list(pd.DatetimeIndex(w["ts"])) == \
        [pd.Timestamp(utc0 + timedelta(hours=i)) for i in range(len(values))]
    assert np.array_equal(w["aqi"].to_numpy(), np.array(values, dtype=float), equal_nan=True)


@BUDGET
@given(st.permutations(list(range(6))))
def test_rows_out_of_order_are_refused(order):
    times = [f"2026-01-10T{h:02d}:00" for h in order]
    frame = pd.DataFrame({"time": times, "aqi": ["60"] * 6})
    if order == sorted(order):
        assert len(hourly_series(frame).windows) == 6
    else:
        with pytest.raises(HourlyInputError, match="consecutive hours"):
            hourly_series(frame)
