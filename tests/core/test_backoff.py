"""The one backoff policy, worked by hand: initial 0.5 s, maximum 30 s."""
import pytest

from core.backoff import backoff_delay


@pytest.mark.parametrize("attempt, low, high", [
    (0, 0.25, 0.5), (1, 0.5, 1.0), (2, 1.0, 2.0), (5, 8.0, 16.0),
    (6, 15.0, 30.0), (7, 15.0, 30.0), (1000, 15.0, 30.0), (-3, 0.25, 0.5)])
def test_bounds_double_then_cap(attempt, low, high):
    assert backoff_delay(attempt, 0.5, 30.0, lambda: 0.0) == low
    assert backoff_delay(attempt, 0.5, 30.0, lambda: 1.0) == high
