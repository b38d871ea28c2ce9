"""Ecological-flow rules: graded daily warnings per control section, and the forecast notice.

``ecoflow`` (kind ``river.ecoflow``) re-grades each section's completed CST days over a
look-back window every run (so hysteresis needs no extra state and survives restarts), writes
the derived ``flow_daily`` series, and leaves out hours the gauge plausibility check finds
suspect: while a gauge is suspect its section says "insufficient", never "clear" or a level.

``ecoflow_forecast`` (kind ``river.ecoflow_forecast``) reads the newest stored
``forecast_flow`` issue and raises an "expected below target" notice when P(below target)
reaches ``p_threshold`` within ``horizon_days``.

Targets come from a :class:`~core.ecoflow.TargetStore` (``targets_url`` = its state
database), from ``bind({"targets": ...})`` (a TargetStore or TargetTable), or else the
packaged placeholder table.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np

from core.timeutil import CST

from .._levels import check_level
from core.ecoflow import (GaugeCheck, Grading, TargetStore, TargetTable, daily_flow, grade_days,
                       packaged_targets, store_daily_flow, suspect_gauges, suspect_hours)
from ._base import PeriodicRule, RuleConfig, Signal, duration


class _TargetsMixin:
    def _init_targets(self, url: str | None) -> None:
        self._targets = TargetStore(url, self.cat) if url else None

    def bind(self, context: dict) -> None:
        """Platform hook: take the shared target table (``context["targets"]``) if given."""
        if context.get("targets") is not None:
            self._targets = context["targets"]

    def table(self) -> TargetTable:
        t = self._targets
        if t is None:
            return TargetTable(packaged_targets(self.cat))
        return t if isinstance(t, TargetTable) else t.table()


class EcoflowConfig(RuleConfig):
    sections: list[str] = []          # default: every control section with a target
    lookback_days: int = 30           # days re-graded each run (hysteresis history)
    blue_ratio: float = 1.2
    red_ratio: float = 0.8
    red_days: int = 3
    dry_m3s: float = 0.05
    clear_days: int = 2               # days at a lower grade before the level is lowered
    min_hours: int = 20               # valid hours for a daily mean; fewer: unknown
    targets_url: str | None = None
    store_daily: bool = True          # write the flow_daily derived series
    check_gauges: bool = True         # leave out hours the plausibility check flags
    gauge_factor: float = 3.0
    gauge_min_hours: int = 3
    suspect_window: str = "24h"       # a gauge flagged within this window is "suspect now"
    every: str = "1h"


class EcoflowRule(_TargetsMixin, PeriodicRule):
    config_model = EcoflowConfig

    def __init__(self, config: EcoflowConfig, catalogue) -> None:
        super().__init__(config, catalogue)
        bad = [s for s in config.sections if s not in catalogue.sections]
        if bad:
            raise ValueError(f"unknown sections {bad}")
        self.every = duration(config.every)
        self.grading = Grading(config.blue_ratio, config.red_ratio, config.red_days,
                               config.dry_m3s, config.clear_days)
        self.gauge_check = GaugeCheck(config.gauge_factor, config.gauge_min_hours)
        self._init_targets(config.targets_url)

    def daily(self, store, today: date):
        """(daily frame of the look-back window, suspect gauges) as evaluated on ``today``."""
        c = self.config
        start = today - timedelta(days=c.lookback_days)
        t0 = datetime(start.year, start.month, start.day, tzinfo=CST)
        t1 = datetime(today.year, today.month, today.day, tzinfo=CST)
        suspects = suspect_gauges(store, self.cat, t0, t1, self.gauge_check) \
            if c.check_gauges else {}
        frame = daily_flow(store, self.cat, self.table(), start, today, min_hours=c.min_hours,
                           exclude=suspect_hours(suspects))
        return frame, suspects

    def evaluate(self, store, now: datetime) -> list[tuple[str, Signal]]:
        c = self.config
        today = now.astimezone(CST).date()
        frame, suspects = self.daily(store, today)
        if c.store_daily and len(frame):
            store_daily_flow(store, frame)
        recent = now - duration(c.suspect_window)
        out = []
        for section, g in frame.groupby("section", sort=True):
            if c.sections and section not in c.sections or g["target"].isna().all():
                continue
            days = [(d, None if q != q else float(q), None if t != t else float(t))
                    for d, q, t in zip(g["day"], g["q_mean"], g["target"])]
            grades = grade_days(days, self.grading)
            gauge = self.cat.sections[section].station
            sus = suspects.get(gauge)
            out.append((f"section:{section}",
                        self._signal(section, grades, sus if sus and sus.hours[-1] >= recent
                                     else None, now)))
        return out

    def _signal(self, section: str, grades, suspect, now: datetime) -> Signal:
        last = grades[-1]
        t = self.table().target(section, last.day)
        ev = {"section": section, "day": last.day.isoformat(),
              "q_mean_m3s": None if last.q is None else round(last.q, 3),
              "target_m3s": last.target, "raw": last.raw, "reason": last.reason,
              "days_below_target": last.below_days,
              "target_source": t.source if t else None,
              "target_placeholder": t.placeholder if t else None,
              "recent": [{"day": g.day.isoformat(), "q": None if g.q is None else round(g.q, 3),
                          "grade": g.raw, "level": g.level} for g in grades[-7:]]}
        if suspect is not None:
            ev["gauge_suspect"] = suspect.evidence()
            return Signal("insufficient", now, None, ev)
        if last.level == "clear":
            # trailing unknown days hold the level like any other: a section whose last known
            # days lowered it to clear (hysteresis done) is clear; never without a known day
            known = [g for g in grades if g.raw is not None]
            if last.raw is None and known:
                ev["last_known_day"] = known[-1].day.isoformat()
            return Signal("clear" if known else "insufficient", now, None, ev)
        return Signal("firing", now, last.level, ev)


class ForecastConfig(RuleConfig):
    sections: list[str] = []
    horizon_days: int = 3             # leads considered (1 = tomorrow)
    p_threshold: float = 0.6
    max_age: str = "36h"              # issues older than this are ignored
    level: str = "blue"
    targets_url: str | None = None
    every: str = "1h"


class EcoflowForecastRule(_TargetsMixin, PeriodicRule):
    config_model = ForecastConfig

    def __init__(self, config: ForecastConfig, catalogue) -> None:
        super().__init__(config, catalogue)
        check_level(config.level)
        self.every = duration(config.every)
        self._init_targets(config.targets_url)

    def evaluate(self, store, now: datetime) -> list[tuple[str, Signal]]:
        c = self.config
        today = now.astimezone(CST).date()
        start = datetime(today.year, today.month, today.day, tzinfo=CST)
        fc = store.read_frame("forecast_flow", start - duration(c.max_age),
                              start + timedelta(days=c.horizon_days + 1))
        if not len(fc) or "issue" not in fc:
            return []
        table = self.table()
        out = []
        for section, g in fc.groupby("section", sort=True):
            if c.sections and section not in c.sections or section not in self.cat.sections:
                continue
            g = g[g["issue"] == g["issue"].max()]
            out.append((f"section:{section}", self._signal(section, g, table, today, now)))
        return out

    def _signal(self, section, g, table: TargetTable, today: date, now) -> Signal:
        c = self.config
        days = []
        for _, r in g.sort_values("time").iterrows():
            day = r["time"].tz_convert(CST).date()
            if not today < day <= today + timedelta(days=c.horizon_days):
                continue
            t = table.target(section, day)
            if t is None:
                continue
            p = float(r["p_below"]) if abs(float(r["target"]) - t.target_m3s) < 1e-9 else \
                p_below(float(r["q10"]), float(r["q50"]), float(r["q90"]), t.target_m3s)
            days.append({"day": day.isoformat(), "p_below": round(p, 3),
                         "q50_m3s": round(float(r["q50"]), 3), "target_m3s": t.target_m3s})
        ev = {"section": section, "issue": str(g["issue"].iloc[0]), "days": days,
              "p_threshold": c.p_threshold}
        if not days:
            return Signal("insufficient", now, None, ev)
        hit = [d for d in days if d["p_below"] >= c.p_threshold]
        if hit:
            ev["first_day_below"] = hit[0]["day"]
            return Signal("firing", now, c.level, ev)
        return Signal("clear", now, None, ev)


def p_below(q10: float, q50: float, q90: float, target: float) -> float:
    """P(flow < target) by linear interpolation of the forecast's 10/50/90 % quantiles."""
    xs, ps = [0.0, q10, q50, q90], [0.0, 0.1, 0.5, 0.9]
    if target >= q90:
        spread = max(q90 - q50, 1e-9)
        return float(min(1.0, 0.9 + 0.1 * (target - q90) / spread))
    return float(np.interp(target, xs, ps))


RULES = {"ecoflow": EcoflowRule, "ecoflow_forecast": EcoflowForecastRule}
