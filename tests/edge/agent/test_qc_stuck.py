"""Issue 16 item 3: the flat-line (stuck value) check accounts for resolution and level.

Clean-air hourly data repeat routinely: integer SO2 at 12 µg/m³ and CO at 1.2 mg/m³
(0.1 resolution) unchanged for 8 hours are normal and must stay valid. A real stuck
instrument (a high value, minute data, a long flat run) is still flagged D.

Defaults (edge/agent/_qc.py StuckPolicy), worked out here from the resolutions
(SO2/NO2/O3/PM 1 µg/m³, CO 0.1 mg/m³):
* sub-hourly: 6 identical readings (stuck_count) at >= 20 steps: SO2 >= 20, CO >= 2.0;
* hourly: 12 identical hours at >= 100 steps: SO2 >= 100, CO >= 10.0, PM2.5 >= 100.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from core.catalogue import load_catalogue
from edge.agent._config import QcConfig
from edge.agent._qc import QualityControl, RawReading, StuckPolicy
from edge.agent._stats import Stats

STATION = "1462A"
T0 = datetime(2026, 1, 10, 0, 0, tzinfo=timezone.utc)


class _Clock:
    def __init__(self):
        self.now = T0.timestamp()

    def __call__(self):
        return self.now


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def _run(catalogue, period: str, step: timedelta, series: list[dict], qc=QcConfig(),
         flags=None):
    """Feed ``series`` (one dict of values per reading) ``step`` apart, each arriving just
    after its period ends; returns the flags of every reading and the stats."""
    clock, stats = _Clock(), Stats()
    q = QualityControl(catalogue, qc, stats, clock=clock)
    out = []
    for i, values in enumerate(series):
        ts = T0 + i * step
        clock.now = (ts + step).timestamp() + 5
        checked = q.check(RawReading(STATION, ts, period, dict(values), dict(flags or {})))
        out.append(checked.body.get("flags", {}))
    return out, stats.snapshot(STATION)


HOUR, MINUTE = timedelta(hours=1), timedelta(minutes=1)


def test_issue_case_clean_air_hourly_so2_12_co_1_2_for_8_hours_stays_valid(catalogue):
    flags, _ = _run(catalogue, "PT1H", HOUR, [{"so2": 12.0, "co": 1.2}] * 8)
    assert flags == [{}] * 8


@pytest.mark.parametrize(("name", "value", "hours", "stuck_from"), [
    # hourly gases at low concentrations: never, however long
    pytest.param("so2", 12.0, 48, None, id="hourly-so2-12-48h"),
    pytest.param("co", 1.2, 48, None, id="hourly-co-1.2-48h"),
    pytest.param("no2", 35.0, 48, None, id="hourly-no2-35-48h"),
    pytest.param("so2", 99.0, 24, None, id="hourly-so2-99-under-floor-100"),
    # at the hourly floor (100 steps) a 12-hour flat line is flagged from the 12th hour
    pytest.param("so2", 100.0, 11, None, id="hourly-so2-100-11h-too-short"),
    pytest.param("so2", 100.0, 14, 12, id="hourly-so2-100-from-12th-hour"),
    pytest.param("co", 10.0, 12, 12, id="hourly-co-10.0-at-floor"),
    pytest.param("co", 9.9, 24, None, id="hourly-co-9.9-under-floor"),
    pytest.param("pm25", 180.0, 13, 12, id="hourly-pm25-180"),
])
def test_hourly_flat_runs(catalogue, name, value, hours, stuck_from):
    flags, stats = _run(catalogue, "PT1H", HOUR, [{name: value}] * hours)
    want = [{name: "D"} if stuck_from and i + 1 >= stuck_from else {} for i in range(hours)]
    assert flags == want
    assert stats.get("qc.stuck", 0) == \
        (hours - stuck_from + 1 if stuck_from else 0)


@pytest.mark.parametrize(("name", "value", "n", "stuck_from"), [
    # a real stuck instrument: PM2.5 at 180 µg/m³ on minute data for 30 minutes
    pytest.param("pm25", 180.0, 30, 6, id="minute-pm25-180-30min"),
    pytest.param("so2", 95.0, 10, 6, id="minute-so2-95"),
    pytest.param("so2", 20.0, 7, 6, id="minute-so2-20-at-floor"),
    pytest.param("so2", 19.0, 30, None, id="minute-so2-19-under-floor"),
    pytest.param("co", 2.0, 8, 6, id="minute-co-2.0-at-floor"),
    pytest.param("co", 1.2, 30, None, id="minute-co-1.2-under-floor"),
    pytest.param("pm25", 180.0, 5, None, id="minute-pm25-5-readings-too-short"),
])
def test_minute_flat_runs(catalogue, name, value, n, stuck_from):
    flags, _ = _run(catalogue, "PT1M", MINUTE, [{name: value}] * n)
    assert flags == [{name: "D"} if stuck_from and i + 1 >= stuck_from else {}
                     for i in range(n)]


def test_a_change_restarts_the_run(catalogue):
    # 5 x 180, one 181, 5 x 180: never 6 identical in a row
    series = [{"pm25": 180.0}] * 5 + [{"pm25": 181.0}] + [{"pm25": 180.0}] * 5
    flags, _ = _run(catalogue, "PT1M", MINUTE, series)
    assert flags == [{}] * 11


def test_the_policy_reads_optional_settings():
    class Qc:
        stuck_min_steps, stuck_hourly_min_steps, stuck_hourly_count = 5, 30, 24
        stuck_resolution = {"so2": 0.1}
    p = StuckPolicy.of(Qc())
    # so2 at 0.1 resolution: 5 steps = 0.5 (minute), 30 steps = 3.0 (hourly)
    assert p.floor("so2", False) == pytest.approx(0.5)
    assert p.floor("so2", True) == pytest.approx(3.0)
    assert p.floor("temp", True) == 0.0 and p.count(6, True) == 24 and p.count(6, False) == 6


def test_device_flags_are_upper_cased_once(catalogue):
    # a logger that sends lower-case flags: 'd' is D, 'n' is N (not a flag at all)
    flags, _ = _run(catalogue, "PT1H", HOUR, [{"so2": 12.0, "co": 1.2}],
                    flags={"so2": "d", "co": "n"})
    assert flags == [{"so2": "D"}]


def test_the_flat_line_policy_is_configurable_from_edge_qc(catalogue):
    """[edge.qc] stuck_min_steps / stuck_hourly_* / stuck_resolution reach the check.
    SO2 12 on minute data: 12 steps of 1 µg/m³, under the default floor of 20 steps (never
    flagged); with stuck_min_steps = 10 the floor is 10 µg/m³, so the 6th reading is D.
    Hourly CO 1.2 with resolution 0.01 and stuck_hourly_min_steps = 100: floor 1.0 mg/m³,
    and stuck_hourly_count = 6: flagged from the 6th hour."""
    flags, _ = _run(catalogue, "PT1M", MINUTE, [{"so2": 12.0}] * 7)
    assert flags == [{}] * 7
    qc = QcConfig(stuck_min_steps=10)
    flags, _ = _run(catalogue, "PT1M", MINUTE, [{"so2": 12.0}] * 7, qc=qc)
    assert flags == [{}] * 5 + [{"so2": "D"}] * 2
    qc = QcConfig(stuck_hourly_count=6, stuck_resolution={"co": 0.01})
    flags, _ = _run(catalogue, "PT1H", HOUR, [{"co": 1.2}] * 7, qc=qc)
    assert flags == [{}] * 5 + [{"co": "D"}] * 2
    with pytest.raises(ValueError):
        QcConfig(stuck_hourly_count=1)
