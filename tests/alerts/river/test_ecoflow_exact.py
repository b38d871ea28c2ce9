"""Issue 16 items 4 and 5: eco-flow grade boundaries compared exactly, and compliance for
a month or year not yet over.

Grades (DOMAIN.md section 7, the configurable proposal): blue below 1.2 x target; yellow
below target; red below 0.8 x target, after 3 consecutive days below target, or dry
(daily mean <= 0.05 m3/s). Every threshold is tested AT its exact value and just under it.
"""
from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

import pandas as pd
import pytest

from core.ecoflow import Grading, grade_days, monthly_compliance, yearly_summary
from core.ecoflow._daily import _row

D0 = date(2027, 4, 1)


def _one_day(q: float, target: float) -> tuple[str, str]:
    (g,) = grade_days([(D0, q, target)])
    return g.raw, g.reason


@pytest.mark.parametrize(("q", "target", "want"), [
    # Huaxian / Lintong, target 12: 0.8 x 12 = 9.6, 1.2 x 12 = 14.4
    pytest.param(9.6, 12.0, "yellow", id="12-at-0.8x-9.6"),
    pytest.param(0.8 * 12, 12.0, "yellow", id="12-at-0.8x-float-product-9.600000000000001"),
    pytest.param(9.599, 12.0, "red", id="12-under-0.8x"),
    pytest.param(12.0, 12.0, "blue", id="12-at-target"),
    pytest.param(11.999, 12.0, "yellow", id="12-under-target"),
    pytest.param(14.4, 12.0, "clear", id="12-at-1.2x-14.4"),
    pytest.param(1.2 * 12, 12.0, "clear", id="12-at-1.2x-float-product-14.399999999999999"),
    pytest.param(14.399, 12.0, "blue", id="12-under-1.2x"),
    # Linjiacun, target 5.4: 0.8 x 5.4 = 4.32, 1.2 x 5.4 = 6.48
    pytest.param(4.32, 5.4, "yellow", id="5.4-at-0.8x-4.32"),
    pytest.param(4.319, 5.4, "red", id="5.4-under-0.8x"),
    pytest.param(6.48, 5.4, "clear", id="5.4-at-1.2x-6.48"),
    pytest.param(6.479, 5.4, "blue", id="5.4-under-1.2x"),
    # Weijiabao, target 8: 6.4 and 9.6; Xianyang 10: 8 and 12; Hejin 1: 0.8 and 1.2
    pytest.param(6.4, 8.0, "yellow", id="8-at-0.8x-6.4"),
    pytest.param(9.6, 8.0, "clear", id="8-at-1.2x-9.6"),
    pytest.param(8.0, 10.0, "yellow", id="10-at-0.8x-8"),
    pytest.param(12.0, 10.0, "clear", id="10-at-1.2x-12"),
    pytest.param(0.8, 1.0, "yellow", id="1-at-0.8x"),
    pytest.param(1.2, 1.0, "clear", id="1-at-1.2x"),
    pytest.param(1.0, 1.0, "blue", id="1-at-target"),
    # dry (断流): at or below 0.05 m3/s, whatever the target
    pytest.param(0.05, 1.0, "red", id="dry-at-0.05"),
    pytest.param(0.051, 0.06, "yellow", id="just-above-dry-0.051-target-0.06"),
])
def test_each_boundary_at_its_exact_value(q, target, want):
    assert _one_day(q, target)[0] == want


def test_reasons_name_the_boundary():
    assert _one_day(9.599, 12.0) == ("red", "below 0.8 x target")
    assert _one_day(14.399, 12.0) == ("blue", "below 1.2 x target")
    assert _one_day(0.05, 12.0)[1].startswith("dry")


def test_ratios_may_be_given_as_text_or_fractions():
    # 0.75 x 12 = 9: at 9.0 yellow, under it red
    for ratio in ("0.75", Fraction(3, 4), 0.75):
        g = Grading(red_ratio=ratio)
        assert [x.raw for x in grade_days([(D0, 9.0, 12.0)], g)] == ["yellow"]
        assert [x.raw for x in grade_days([(D0, 8.999, 12.0)], g)] == ["red"]


@pytest.mark.parametrize(("red_days", "below", "want"), [
    (3, 2, "yellow"),    # 2 consecutive days below target: not yet
    (3, 3, "red"),       # the 3rd consecutive day below target: red
    (2, 2, "red"),
])
def test_consecutive_days_below_target_boundary(red_days, below, want):
    # 11 < 12 but >= 9.6: each day alone is yellow
    days = [(D0 + timedelta(days=i), 11.0, 12.0) for i in range(below)]
    grades = grade_days(days, Grading(red_days=red_days))
    assert grades[-1].raw == want and grades[-1].below_days == below


@pytest.mark.parametrize(("clear_days", "lower_days", "want"), [
    (2, 1, "yellow"),    # one day back at target (raw blue): level held
    (2, 2, "blue"),      # the 2nd day: lowered
    (3, 2, "yellow"),
    (3, 3, "blue"),
])
def test_level_lowered_after_exactly_clear_days(clear_days, lower_days, want):
    # day 1 at 11 (yellow), then 12.0 = target exactly (blue: not below target)
    days = [(D0, 11.0, 12.0)] + [(D0 + timedelta(days=1 + i), 12.0, 12.0)
                                 for i in range(lower_days)]
    assert grade_days(days, Grading(clear_days=clear_days))[-1].level == want


class _Targets:
    def __init__(self, value):
        self.value = value

    def target(self, section, day):
        from core.ecoflow import Target
        return Target(section, date(2020, 1, 1), None, self.value, "test", True)


class _Sec:
    id = station = "huaxian"


@pytest.mark.parametrize(("hourly", "target", "met"), [
    ([11.9, 12.1] * 12, 12.0, True),      # mean (11.9 + 12.1) / 2 = 12.0 = target: met
    ([9.5, 9.7] * 12, 9.6, True),         # mean 9.6 = target
    ([11.9, 12.099] * 12, 12.0, False),   # mean 11.9995 < 12
])
def test_a_day_meets_its_target_at_exactly_the_target(hourly, target, met):
    per_day = pd.DataFrame({"station": ["huaxian"], "day": [D0],
                            "q_mean": [pd.Series(hourly).mean()],
                            "n_hours": [len(hourly)]}).set_index(["station", "day"])
    row = _row(_Sec(), D0, per_day, _Targets(target), 20)
    assert row[7] is met


# ---------------------------------------------------------------- item 5: compliance so far
def _daily(days: int, missed: set[int], unknown: set[int] = frozenset(), start=D0):
    rows = []
    for i in range(days):
        day = start + timedelta(days=i)
        if i in unknown:
            rows.append([day, "huaxian", None, "unknown", 12.0, None, None])
        elif i in missed:
            rows.append([day, "huaxian", 10.0, "ok", 12.0, False, 2.0 * 86400])
        else:
            rows.append([day, "huaxian", 13.0, "ok", 12.0, True, 0.0])
    return pd.DataFrame(rows, columns=["day", "section", "q_mean", "status", "target", "met",
                                       "deficit_m3"])


@pytest.mark.parametrize(("today", "days", "met", "pct", "complete", "passes"), [
    # April 2027 has 30 days; data for Apr 1..10, all met. On Apr 11 the month so far is
    # 10 days, 10 met: 100 %, no verdict yet (the old code said 10/30 = 33.33 %, failed).
    pytest.param(date(2027, 4, 11), 10, 10, 100.0, False, None, id="apr-11-so-far"),
    # on Apr 1 nothing has been lived yet: no row
    pytest.param(date(2027, 4, 1), 0, 0, None, False, None, id="apr-1-nothing-yet"),
    # May 1: April is over: 10 met of 30 = 33.33 %, below 90: fails
    pytest.param(date(2027, 5, 1), 30, 10, 33.33, True, False, id="may-1-month-over"),
    # without today: judged whole (the old meaning)
    pytest.param(None, 30, 10, 33.33, True, False, id="no-today-whole-month"),
])
def test_monthly_compliance_of_an_unfinished_month(today, days, met, pct, complete, passes):
    mc = monthly_compliance(_daily(10, set()), 2027, 4, today=today)
    if days == 0:
        assert mc.empty
        return
    row = mc.set_index("section").loc["huaxian"]
    assert (row["days"], row["period_days"], row["met"]) == (days, 30, met)
    assert row["compliance_pct"] == pct and row["complete"] == complete
    assert row["passes"] is passes or row["passes"] == passes


def test_month_so_far_counts_missed_and_unknown_days_lived():
    # Apr 1..20 lived (today Apr 21): missed on days 2 and 3, unknown on day 5:
    # 17 met of 20 = 85 %; unknown = 20 - 17 - 2 = 1; verdict withheld.
    mc = monthly_compliance(_daily(30, {2, 3}, {5}), 2027, 4, today=date(2027, 4, 21))
    row = mc.iloc[0]
    assert (row["days"], row["met"], row["missed"], row["unknown"]) == (20, 17, 2, 1)
    assert row["compliance_pct"] == 85.0 and row["passes"] is None
    assert row["deficit_m3"] == 2 * 2.0 * 86400


def test_yearly_summary_of_an_unfinished_year():
    # 2027 from Jan 1: 100 days of data, misses on Jan 5..9 (5 days), today = Apr 11 (day 101)
    # -> 100 days so far, 95 met = 95 %; the year is not over: no verdict. January is over
    # (31 days, 26 met = 83.87 %: fails), February and March passed (100 %), April is not over.
    start = date(2027, 1, 1)
    daily = _daily(100, set(range(4, 9)), start=start)
    ys = yearly_summary(daily, 2027, today=date(2027, 4, 11)).iloc[0]
    assert (ys["days"], ys["period_days"], ys["met"]) == (100, 365, 95)
    assert ys["compliance_pct"] == 95.0 and ys["passes"] is None and not ys["complete"]
    assert (ys["months_complete"], ys["months_passing"]) == (3, 2)
