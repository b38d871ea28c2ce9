"""Ecological-flow warning grades per day, with hysteresis.

Default grading (a configurable proposal, DOMAIN.md section 7): blue below 1.2 x target;
yellow below target; red after ``red_days`` consecutive days below target, below
0.8 x target, or dry. A level is lowered only after ``clear_days`` consecutive days at a
lower level. Unknown days (not enough valid data) hold the current level and are reported.

Boundaries are exact (:mod:`._exact`): a daily mean of 9.6 m³/s against a 12 m³/s target
is exactly 0.8 x target, so yellow, not red; ratios may be given as text ("0.8").
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from ._exact import exact

Number = float | int | str | Decimal | Fraction

LEVELS = ("clear", "blue", "yellow", "red")


@dataclass(frozen=True)
class Grading:
    blue_ratio: Number = Fraction(6, 5)
    red_ratio: Number = Fraction(4, 5)
    red_days: int = 3
    dry_m3s: Number = Fraction(1, 20)
    clear_days: int = 2

    def thresholds(self, target: float) -> tuple[Fraction, Fraction, Fraction, Fraction]:
        """Exact (dry, red, target, blue) thresholds in m³/s for ``target``."""
        t = exact(target)
        return exact(self.dry_m3s), exact(self.red_ratio) * t, t, exact(self.blue_ratio) * t


@dataclass(frozen=True)
class DayGrade:
    day: date
    q: float | None
    target: float | None
    raw: str | None          # that day's own grade; None when unknown
    level: str               # the alert level after hysteresis
    below_days: int          # consecutive days below target up to this day
    reason: str


def _text(x: Number) -> str:
    return str(float(exact(x)))


def _raw(q: float, target: float, below_days: int, g: Grading) -> tuple[str, str]:
    dry, red, t, blue = g.thresholds(target)
    x = exact(q)
    if x <= dry:
        return "red", "dry (断流)"
    if x < red:
        return "red", f"below {_text(g.red_ratio)} x target"
    if x < t and below_days >= g.red_days:
        return "red", f"{below_days} consecutive days below target"
    if x < t:
        return "yellow", "below target"
    if x < blue:
        return "blue", f"below {_text(g.blue_ratio)} x target"
    return "clear", "at or above target"


def grade_days(days: list[tuple[date, float | None, float | None]],
               grading: Grading = Grading()) -> list[DayGrade]:
    """Grade a section's consecutive days ``(day, daily mean or None, target or None)``."""
    out: list[DayGrade] = []
    level, below, lower_run = "clear", 0, 0
    for day, q, target in days:
        if q is None or target is None or q != q:
            out.append(DayGrade(day, None, target, None, level, below, "insufficient data"))
            continue
        below = below + 1 if exact(q) < exact(target) else 0
        raw, reason = _raw(q, target, below, grading)
        if LEVELS.index(raw) >= LEVELS.index(level):
            level, lower_run = raw, 0
        else:
            lower_run += 1
            if lower_run >= grading.clear_days:
                level, lower_run = raw, 0
        out.append(DayGrade(day, q, target, raw, level, below, reason))
    return out
