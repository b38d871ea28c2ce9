"""Reports: the Monday disposal list, monthly compliance, the yearly summary (日预警、周处置、月通报、年考核)."""
from __future__ import annotations

import calendar
from datetime import date, timedelta

import pandas as pd

BENCHMARK = 90.0


def monday_list(daily: pd.DataFrame, monday: date) -> pd.DataFrame:
    """Sections below target on at least one day of the week before ``monday``."""
    if monday.weekday() != 0:
        raise ValueError(f"{monday} is not a Monday")
    week = daily[(daily["day"] >= monday - timedelta(days=7)) & (daily["day"] < monday)]
    rows = []
    for section, g in week.groupby("section", sort=True):
        missed = g[g["met"] == False]  # noqa: E712 - None means unknown
        if missed.empty:
            continue
        rows.append({"section": section, "week_start": (monday - timedelta(days=7)).isoformat(),
                     "days_missed": len(missed), "days_missed_list": ",".join(
                         d.isoformat() for d in missed["day"]),
                     "days_unknown": int((g["status"] == "unknown").sum()),
                     "deficit_m3": float(missed["deficit_m3"].sum()),
                     "min_q_m3s": float(missed["q_mean"].min())})
    return pd.DataFrame(rows, columns=["section", "week_start", "days_missed",
                                       "days_missed_list", "days_unknown", "deficit_m3",
                                       "min_q_m3s"])


def _so_far(first: date, n: int, today: date | None) -> tuple[int, bool]:
    """(days of the period counted, whether the period is over) as of ``today``.

    ``today`` is the current CST day, not yet over: the days before it count. None means
    the period is judged whole (a past period, or a caller that knows it is over).
    """
    if today is None or today >= first + timedelta(days=n):
        return n, True
    return max(0, (today - first).days), False


def _compliance(g: pd.DataFrame, n_days: int, period_days: int | None = None,
                complete: bool = True) -> dict:
    met = int((g["met"] == True).sum())  # noqa: E712
    missed = int((g["met"] == False).sum())  # noqa: E712
    unknown = n_days - met - missed
    rate = 100.0 * met / n_days if n_days else float("nan")
    return {"days": n_days, "met": met, "missed": missed, "unknown": unknown,
            "compliance_pct": round(rate, 2), "benchmark_pct": BENCHMARK,
            "passes": (rate >= BENCHMARK) if complete else None,
            "deficit_m3": float(g.loc[g["met"] == False, "deficit_m3"].sum()),  # noqa: E712
            "period_days": n_days if period_days is None else period_days,
            "complete": complete}


def monthly_compliance(daily: pd.DataFrame, year: int, month: int,
                       today: date | None = None) -> pd.DataFrame:
    """Per section: % of the month's days met (unknown days count as not met).

    With ``today`` inside the month, the month so far: ``days`` counts the days before
    ``today`` (``period_days`` the whole month), ``complete`` is False and ``passes`` is
    None: the whole-month verdict only once the month is over. Days not yet lived are
    never counted as not met.
    """
    first = date(year, month, 1)
    n = calendar.monthrange(year, month)[1]
    days, complete = _so_far(first, n, today)
    m = daily[(daily["day"] >= first) & (daily["day"] < first + timedelta(days=days))]
    rows = [{"section": s, "month": f"{year}-{month:02d}", **_compliance(g, days, n, complete)}
            for s, g in m.groupby("section", sort=True)]
    return pd.DataFrame(rows)


def yearly_summary(daily: pd.DataFrame, year: int, today: date | None = None) -> pd.DataFrame:
    """Per section: the year's compliance and how many of its months passed.

    With ``today`` inside the year: the year so far (as :func:`monthly_compliance`);
    ``months_passing`` counts only months that are over (``months_complete``).
    """
    first, n = date(year, 1, 1), 366 if calendar.isleap(year) else 365
    days, complete = _so_far(first, n, today)
    y = daily[(daily["day"] >= first) & (daily["day"] < first + timedelta(days=days))]
    rows = []
    for s, g in y.groupby("section", sort=True):
        months = [monthly_compliance(g, year, m, today) for m in range(1, 13)]
        done = [mc for mc in months if not mc.empty and bool(mc["complete"].iloc[0])]
        passing = sum(bool(mc["passes"].iloc[0]) for mc in done)
        rows.append({"section": s, "year": year, **_compliance(g, days, n, complete),
                     "months_passing": passing, "months_complete": len(done)})
    return pd.DataFrame(rows)
