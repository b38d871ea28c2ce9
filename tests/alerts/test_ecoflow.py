"""Ecological flow: targets as data, daily means, grades with hysteresis, reports."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from core.ecoflow import (Grading, RatingCurve, TargetError, TargetStore, daily_flow,
                            grade_days, monday_list, monthly_compliance, store_daily_flow,
                            yearly_summary)
from core.store import open_store
from core.timeutil import CST
from core.wire import Reading


@pytest.fixture
def targets(tmp_path, catalogue):
    return TargetStore(f"sqlite:///{tmp_path / 'state.db'}", catalogue)


def test_packaged_targets_are_marked_placeholders(targets):
    t = targets.table().target("huaxian", date(2027, 4, 1))
    assert t.target_m3s == 12.0 and t.placeholder
    assert targets.table().target("hejin", date(2027, 4, 1)).target_m3s == 1.0


def test_seasonal_target_switches_on_its_dates_and_change_is_audited(targets):
    targets.set({"section": "huaxian", "valid_from": "2027-01-01", "months": [4, 5, 6],
                 "target_m3s": 15.0, "source": "spawning season (test)"}, who="admin-key-7")
    table = targets.table()
    assert table.target("huaxian", date(2027, 3, 31)).target_m3s == 12.0
    assert table.target("huaxian", date(2027, 4, 1)).target_m3s == 15.0
    assert table.target("huaxian", date(2027, 7, 1)).target_m3s == 12.0
    assert table.target("huaxian", date(2026, 4, 1)).target_m3s == 12.0  # before valid_from
    last = targets.audit()[-1]
    assert last["who"] == "admin-key-7" and '"target_m3s": 15.0' in last["detail"]


@pytest.mark.parametrize("row", [
    {"section": "nile", "valid_from": "2027-01-01", "target_m3s": 1},
    {"section": "huaxian", "valid_from": "someday", "target_m3s": 1},
    {"section": "huaxian", "valid_from": "2027-01-01", "target_m3s": -1},
    {"section": "huaxian", "valid_from": "2027-01-01", "target_m3s": 1, "months": [13]},
])
def test_bad_target_rows_are_refused(targets, row):
    with pytest.raises(TargetError):
        targets.set(row, who="x")


def _day_readings(station, day: date, q: float, hours=range(24), flags=None, param="discharge"):
    t0 = datetime(day.year, day.month, day.day, tzinfo=CST)
    return [Reading(station, "weinan", "hydro", t0 + timedelta(hours=h), "PT1H",
                    {param: q}, flags or {}) for h in hours]


def test_daily_mean_uses_valid_data_only_and_unknown_is_never_met(catalogue, targets, tmp_path):
    store = open_store(f"duckdb://{tmp_path / 'f.duckdb'}", catalogue)
    d = date(2027, 4, 1)
    rows = _day_readings("huaxian", d, 10.0)
    rows += _day_readings("huaxian", d + timedelta(days=1), 13.0, range(19))  # 19 h: unknown
    rows += _day_readings("huaxian", d + timedelta(days=2), 14.0, range(20))
    rows += _day_readings("huaxian", d + timedelta(days=2), 0.0, range(20, 24), {"discharge": "D"})
    store.write(rows)
    df = daily_flow(store, catalogue, targets.table(), d, d + timedelta(days=3))
    hx = df[df["section"] == "huaxian"].set_index("day")
    assert hx.loc[d, "q_mean"] == 10.0 and hx.loc[d, "met"] == False  # noqa: E712
    assert hx.loc[d, "deficit_m3"] == pytest.approx(2.0 * 86400)
    assert hx.loc[d + timedelta(days=1), "status"] == "unknown"
    assert hx.loc[d + timedelta(days=1), "met"] is None
    assert hx.loc[d + timedelta(days=2), "q_mean"] == 14.0  # the D-flagged zeros excluded
    assert store_daily_flow(store, df) == len(df)
    back = store.read_frame("flow_daily", datetime(2027, 3, 1, tzinfo=CST),
                            datetime(2027, 5, 1, tzinfo=CST), {"section": ["huaxian"]})
    assert list(back["met"].fillna(-1)) == [0.0, -1, 1.0]


def test_rating_curve_for_stage_only_gauge(catalogue, targets, tmp_path):
    store = open_store("duckdb://:memory:", catalogue)
    d = date(2027, 4, 1)
    store.write(_day_readings("huaxian", d, 332.0, param="stage"))
    curves = {"huaxian": RatingCurve(a=3.0, h0=330.0, b=1.5)}
    df = daily_flow(store, catalogue, targets.table(), d, d + timedelta(days=1), curves=curves)
    q = df.set_index("section").loc["huaxian", "q_mean"]
    assert q == pytest.approx(3.0 * 2.0 ** 1.5)


def test_grades_with_hysteresis():
    d0 = date(2027, 4, 1)
    qs = [13.0, 11.0, 11.0, 11.0, 9.0, 13.0, 13.0, 13.0, None, 15.0, 15.0, 0.0]
    grades = grade_days([(d0 + timedelta(days=i), q, 12.0) for i, q in enumerate(qs)],
                        Grading(clear_days=2))
    # 13 < 14.4 blue; 11 < 12 yellow; 3rd consecutive day below target -> red; 9 < 9.6 red;
    # 13 (raw blue) held red for one day, lowered to blue on the 2nd; unknown holds;
    # 15 clear raw: first day held, second lowered; 0 = dry -> red at once.
    assert [g.raw for g in grades] == ["blue", "yellow", "yellow", "red", "red", "blue", "blue",
                                       "blue", None, "clear", "clear", "red"]
    assert [g.level for g in grades] == ["blue", "yellow", "yellow", "red", "red", "red", "blue",
                                         "blue", "blue", "blue", "clear", "red"]
    assert grades[8].reason == "insufficient data"
    assert grades[11].reason.startswith("dry")


def _daily(rows):
    import pandas as pd
    return pd.DataFrame(rows, columns=["day", "section", "q_mean", "status", "target", "met",
                                       "deficit_m3"])


def test_monday_list_and_monthly_compliance_by_hand():
    # April 2027: Huaxian misses on Apr 5..11 (7 days at 10 m3/s: deficit 2 m3/s each day),
    # unknown on Apr 12, met on the other 22 days.
    rows = []
    for i in range(30):
        day = date(2027, 4, 1) + timedelta(days=i)
        if 4 <= i <= 10:
            rows.append([day, "huaxian", 10.0, "ok", 12.0, False, 2.0 * 86400])
        elif i == 11:
            rows.append([day, "huaxian", None, "unknown", 12.0, None, None])
        else:
            rows.append([day, "huaxian", 13.0, "ok", 12.0, True, 0.0])
        rows.append([day, "lintong", 20.0, "ok", 12.0, True, 0.0])
    daily = _daily(rows)
    ml = monday_list(daily, date(2027, 4, 12))  # the week Mon Apr 5 .. Sun Apr 11
    assert list(ml["section"]) == ["huaxian"]
    assert ml["days_missed"].iloc[0] == 7
    assert ml["deficit_m3"].iloc[0] == 7 * 2.0 * 86400 == 1_209_600
    assert monday_list(daily, date(2027, 4, 19)).empty
    mc = monthly_compliance(daily, 2027, 4).set_index("section")
    assert mc.loc["huaxian", "met"] == 22 and mc.loc["huaxian", "unknown"] == 1
    assert mc.loc["huaxian", "compliance_pct"] == round(100 * 22 / 30, 2) == 73.33
    assert not mc.loc["huaxian", "passes"] and mc.loc["lintong", "passes"]
    ys = yearly_summary(daily, 2027).set_index("section")
    assert ys.loc["huaxian", "met"] == 22 and ys.loc["lintong", "months_passing"] == 1
    with pytest.raises(ValueError):
        monday_list(daily, date(2027, 4, 13))
