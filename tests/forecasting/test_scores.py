"""Scoring code on hand-worked cases."""
import math

import numpy as np
import pytest

from forecasting import Contingency, mae, pinball, rmse, skill


def test_contingency_hand_case():
    # pairs: (1,1) hit, (1,0) false alarm, (0,1) miss, (0,0) correct negative, (1,1) hit, (0,0)
    c = Contingency.of([1, 1, 0, 0, 1, 0], [1, 0, 1, 0, 1, 0])
    assert (c.hits, c.false_alarms, c.misses, c.correct_negatives) == (2, 1, 1, 2)
    assert c.pod == pytest.approx(2 / 3)  # a / (a + c)
    assert c.far == pytest.approx(1 / 3)  # b / (a + b)
    assert c.csi == pytest.approx(0.5)  # a / (a + b + c) = 2 / 4


def test_contingency_skips_missing_and_adds():
    c = Contingency.of([1, np.nan, 1, 0], [1, 1, np.nan, 1])  # only pairs 0 and 3 count
    assert (c.hits, c.false_alarms, c.misses) == (1, 0, 1)
    total = c + Contingency(3, 1, 0, 5)
    assert (total.hits, total.false_alarms, total.misses) == (4, 1, 1)
    assert total.pod == pytest.approx(0.8) and total.far == pytest.approx(0.2)
    assert total.csi == pytest.approx(4 / 6)


@pytest.mark.parametrize("table, score", [
    (Contingency(0, 0, 0, 10), "pod"), (Contingency(0, 0, 3), "far"),
    (Contingency(0, 0, 0, 4), "csi")], ids=["no-events", "no-warnings", "nothing"])
def test_undefined_scores_are_nan(table, score):
    assert math.isnan(getattr(table, score))


def test_errors_hand_case():
    f, o = [2, 4, 6, np.nan], [1, 4, 8, 3]
    # errors 1, 0, -2 (the NaN pair is skipped)
    assert mae(f, o) == pytest.approx(1.0)
    assert rmse(f, o) == pytest.approx(math.sqrt(5 / 3))
    assert math.isnan(rmse([np.nan], [1.0]))


def test_skill_and_pinball():
    assert skill(8.0, 10.0) == pytest.approx(0.2)  # 20 % better than the reference
    assert skill(12.0, 10.0) == pytest.approx(-0.2)
    # q = 0.9: under-forecast by 2 costs 0.9 * 2; over-forecast by 2 costs 0.1 * 2
    assert pinball([8.0], [10.0], 0.9) == pytest.approx(1.8)
    assert pinball([12.0], [10.0], 0.9) == pytest.approx(0.2)
