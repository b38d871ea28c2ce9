"""Writes the hourly CSV fixtures of tests/alerts/warnings/test_warnings_grade_cli.py.

Run from the repository root: ``python tests/data/warnings/make_csv.py``. Inputs only: the
expected levels are worked by hand in the test.

``p-<hours>h-<pm25>.csv``: 96 hourly rows from 2026-01-10 00:00 CST; PM2.5 at <pm25> µg/m³
for <hours> hours from hour 24 (2026-01-11 00:00 CST), 20 µg/m³ otherwise; PM10, SO2, NO2, O3
at 20 µg/m³ and CO at 0.02 mg/m³ (20 µg/m³) throughout.
``a-<value>x<n>[-<value>x<n>].csv``: an ``aqi`` column (24 h-window AQI per window end hour),
120 rows from 2026-01-10 00:00 CST: 24 rows of 60, the runs, then 60.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
T0 = datetime(2026, 1, 10, 0, 0)
POLLUTANT_CASES = [(24, 200), (48, 200), (48, 130), (24, 151), (24, 150), (23, 151),
                   (30, 130), (29, 130)]
AQI_CASES = [[(201, 1)], [(200, 1)], [(151, 25)], [(151, 24)], [(201, 25)], [(201, 24)],
             [(151, 49)], [(151, 48)], [(301, 1), (201, 48)], [(301, 1), (201, 47)],
             [(300, 1), (201, 48)], [(301, 25), (201, 48)], [(301, 24), (201, 49)],
             [(301, 25), (201, 47)], [(201, 49)], [(201, 48)], [(500, 1)], [(499, 1)],
             [(151, 13)], [(151, 12)]]


def _t(i: int) -> str:
    return (T0 + timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M")


def pollutant_csv(hours: int, pm25: float) -> str:
    rows = ["time,pm25,pm10,so2,no2,co,o3"]
    for i in range(96):
        v = pm25 if 24 <= i < 24 + hours else 20
        rows.append(f"{_t(i)},{v:g},20,20,20,0.02,20")
    return "\n".join(rows) + "\n"


def aqi_csv(runs) -> str:
    values = [60] * 24 + [v for v, n in runs for _ in range(n)]
    values = (values + [60] * 120)[:120]
    return "\n".join(["time,aqi"] + [f"{_t(i)},{v}" for i, v in enumerate(values)]) + "\n"


def main() -> None:
    for hours, pm25 in POLLUTANT_CASES:
        (HERE / f"p-{hours}h-{pm25}.csv").write_text(pollutant_csv(hours, pm25))
    for runs in AQI_CASES:
        name = "-".join(f"{v}x{n}" for v, n in runs)
        (HERE / f"a-{name}.csv").write_text(aqi_csv(runs))
    bad = HERE / "bad"
    bad.mkdir(exist_ok=True)
    (bad / "no-time.csv").write_text("hour,aqi\n2026-01-10T00:00,60\n")
    (bad / "no-values.csv").write_text("time,temp\n2026-01-10T00:00,3\n")
    (bad / "half-hourly.csv").write_text(
        "time,aqi\n2026-01-10T00:00,60\n2026-01-10T00:30,60\n2026-01-10T01:00,60\n")
    (bad / "gap.csv").write_text("time,aqi\n2026-01-10T00:00,60\n2026-01-10T02:00,60\n")
    (bad / "bad-time.csv").write_text("time,aqi\n2026-01-10T00:00,60\nyesterday noon,60\n")
    (bad / "bad-number.csv").write_text("time,aqi\n2026-01-10T00:00,60\n2026-01-10T01:00,high\n")
    (bad / "short.csv").write_text(pollutant_csv(0, 20).splitlines(True)[0]
                                   + "".join(pollutant_csv(0, 20).splitlines(True)[1:11]))


if __name__ == "__main__":
    main()
