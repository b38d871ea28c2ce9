"""Grading an hourly forecast sequence: episodes, merged gaps, criteria, holding and lifting.

Hours are positions in an :class:`AqiSequence` (one value per forecast hour from ``start``).
Missing values (NaN) are never "clean": they end neither an episode's gap check nor start a
lifting run, and a condition on them is neither met nor ruled out.

Durations (DOMAIN.md section 4): "daily AQI" is the AQI of any 24 consecutive hours, and the
``aqi`` value at hour ``i`` is that of the window ending with hour ``i`` (hours ``i-23..i``).
"AQI > T for H hours" (H >= 24) holds when the window AQI stays above T for at least
``H - 23`` window ends of one episode (one window for H <= 24): consecutive window ends cover
``k + 23`` hours. ``N`` consecutive CST calendar-day windows above T always count as ``N x 24``
hours. The span of a condition starts with its first qualifying window (``i - 23``) and ends
with its last one; an ``<pollutant>_1h`` condition counts hours of the hourly value itself.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from core.timeutil import CST

from .._levels import RANK
from ._grading import Condition, Criterion, Grading

HOUR = timedelta(hours=1)
WINDOW_H = 24                      # the "daily" AQI window


@dataclass(frozen=True)
class AqiSequence:
    """Forecast rolling-24 h AQI per hour from ``start``, with hourly concentrations."""

    start: datetime
    aqi: np.ndarray
    primary: tuple[str, ...] = ()
    conc: dict[str, np.ndarray] = field(default_factory=dict)   # "<pollutant>_1h" -> values
    p_gt_200: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.aqi)

    def values(self, indicator: str) -> np.ndarray | None:
        """The indicator's values, or None when the forecast does not carry it at all."""
        return self.aqi if indicator == "aqi" else self.conc.get(indicator)

    def ts(self, i: int) -> datetime:
        return self.start + i * HOUR

    @property
    def empty(self) -> bool:
        return not len(self.aqi) or bool(np.isnan(self.aqi).all())


@dataclass(frozen=True)
class Grade:
    """The highest level the sequence meets, the criterion, the window ends it spans
    (``first``..``last``, positions in the sequence) and the hours they cover (``onset``:
    start of the first qualifying window; ``end``: exclusive end of the last)."""

    level: str | None
    criterion: str = ""
    first: int | None = None
    last: int | None = None
    onset: datetime | None = None
    end: datetime | None = None


def episodes(mask: np.ndarray, merge_gap: int) -> list[tuple[int, int, int]]:
    """(first, last, hours true) of runs of ``mask``; runs separated by at most ``merge_gap``
    false hours are one episode (the gap hours are not counted)."""
    idx = np.flatnonzero(mask)
    if not len(idx):
        return []
    out, first, last, n = [], int(idx[0]), int(idx[0]), 1
    for i in idx[1:]:
        if i - last - 1 <= merge_gap:
            last, n = int(i), n + 1
        else:
            out.append((first, last, n))
            first, last, n = int(i), int(i), 1
    out.append((first, last, n))
    return out


def _above(v: np.ndarray, threshold: float) -> np.ndarray:
    return np.nan_to_num(v, nan=-np.inf) > threshold


def _usable(seq: AqiSequence, crit: Criterion) -> bool:
    return all(seq.values(c.indicator) is not None for c in crit.all)


def ends_needed(cond: Condition) -> int:
    """Values above the threshold one episode needs for ``cond``: window ends for the
    rolling 24 h AQI (``hours - 23``, at least one), hours for an hourly concentration."""
    if cond.indicator == "aqi":
        return max(1, cond.hours - (WINDOW_H - 1))
    return cond.hours


def _calendar_days(seq: AqiSequence, mask: np.ndarray, hours: int) -> list[tuple[int, int]]:
    """(first, last) window ends of runs of consecutive CST calendar-day windows above the
    threshold that together cover at least ``hours`` hours."""
    ends = [i for i in range(len(mask)) if seq.ts(i).astimezone(CST).hour == WINDOW_H - 1]
    out, run = [], []
    for i in ends:
        if mask[i]:
            run.append(i)
            continue
        if len(run) * WINDOW_H >= hours:
            out.append((run[0], run[-1]))
        run = []
    if len(run) * WINDOW_H >= hours:
        out.append((run[0], run[-1]))
    return out


def spans(seq: AqiSequence, cond: Condition, merge_gap: int) -> list[tuple[int, int]]:
    """(first, last) positions of every episode long enough for ``cond``."""
    mask = _above(seq.values(cond.indicator), cond.above)
    need = ends_needed(cond)
    out = [(a, b) for a, b, n in episodes(mask, merge_gap) if n >= need]
    if cond.indicator == "aqi" and cond.hours > WINDOW_H:
        out += [s for s in _calendar_days(seq, mask, cond.hours) if s not in out]
    return sorted(out)


def _hours(cond: Condition, span: tuple[int, int]) -> tuple[int, int]:
    """Hours covered by a span, [start, end) relative to the sequence start."""
    lead = WINDOW_H - 1 if cond.indicator == "aqi" else 0
    return span[0] - lead, span[1] + 1


def match(seq: AqiSequence, crit: Criterion, merge_gap: int) -> tuple[int, int, int, int] | None:
    """First (first, last, start, end) where every condition of ``crit`` has an episode long
    enough, the hours they cover overlapping the first condition's (``first``/``last``: window
    ends; ``start``/``end``: covered hours, end exclusive); None when not met."""
    if not _usable(seq, crit):
        return None
    per = [[(s, _hours(c, s)) for s in spans(seq, c, merge_gap)] for c in crit.all]
    for span, (h0, h1) in per[0]:
        found = [(span, (h0, h1))]
        for eps in per[1:]:
            hit = next((e for e in eps if e[1][0] < h1 and e[1][1] > h0), None)
            if hit is None:
                break
            found.append(hit)
        else:
            return (min(s[0] for s, _ in found), max(s[1] for s, _ in found),
                    min(h[0] for _, h in found), max(h[1] for _, h in found))
    return None


def grade(seq: AqiSequence, grading: Grading, merge_gap: int) -> Grade:
    for level, crits in grading.ordered():
        for crit in crits:
            m = match(seq, crit, merge_gap)
            if m is not None:
                first, last, h0, h1 = m
                return Grade(level, crit.label(), first, last, seq.ts(h0), seq.ts(h1))
    return Grade(None)


def below_hours(seq: AqiSequence, grading: Grading, level: str) -> int:
    """Leading hours in which no criterion of ``level`` holds hour by hour (every condition
    above its threshold); an hour with a missing value ends the run."""
    n = len(seq)
    bad = np.zeros(n, bool)
    for crit in grading.levels.get(level, ()):
        if not _usable(seq, crit):
            continue
        met = np.ones(n, bool)
        for c in crit.all:
            v = seq.values(c.indicator)
            met &= np.isnan(v) | (np.nan_to_num(v, nan=-np.inf) > c.above)
        bad |= met
    return int(np.argmax(bad)) if bad.any() else n


def hold(prior: str | None, target: str | None, seq: AqiSequence, grading: Grading,
         lift_after: int) -> tuple[str | None, str]:
    """(level, basis): up at once; down or lifted only when the forecast stays below the
    current level's trigger for more than ``lift_after`` hours, else the current level holds."""
    if prior is None or (RANK[target] if target else -1) >= RANK[prior]:
        return target, "forecast"
    if below_hours(seq, grading, prior) > lift_after:
        return target, "forecast"
    return prior, "hold"


def primary_of(seq: AqiSequence, first: int | None, last: int | None) -> str:
    """The primary pollutant of most hours of the episode (the peak hour's on a tie)."""
    if first is None or not seq.primary:
        return ""
    names = [p.strip() for i in range(first, last + 1) if i < len(seq.primary)
             for p in seq.primary[i].split(",") if p.strip()]
    if not names:
        return ""
    counts = Counter(names).most_common()
    top = [n for n, k in counts if k == counts[0][1]]
    if len(top) > 1:
        peak = first + int(np.nanargmax(seq.aqi[first:last + 1]))
        at_peak = [p.strip() for p in seq.primary[peak].split(",")]
        top = [n for n in top if n in at_peak] or top
    return top[0]


# primary pollutant -> episode type; PM2.5 (and combustion gases) call for emission cuts,
# ozone, dust and sand, wildfire smoke and cross-border episodes for health advice only.
EPISODE_OF = {"pm25": "pm25", "pm10": "dust", "o3": "ozone", "o3_8h": "ozone", "o3_1h": "ozone",
              "so2": "combustion", "no2": "combustion", "co": "combustion"}
CUTS = {"pm25", "combustion"}
NOTE = {
    "pm25": ("PM2.5污染过程：按预案落实减排措施", "PM2.5 episode: apply the plan's emission cuts"),
    "combustion": ("燃烧源污染过程：按预案落实减排措施",
                   "combustion-source episode: apply the plan's emission cuts"),
    "ozone": ("臭氧污染过程：发布健康防护提示，不启动强制减排",
              "ozone episode: health advice only, no mandatory emission cuts"),
    "dust": ("沙尘污染过程：发布健康防护提示，不启动强制减排",
             "dust and sand episode: health advice only, no mandatory emission cuts"),
    "wildfire": ("山火烟雾污染过程：发布健康防护提示，不启动强制减排",
                 "wildfire smoke episode: health advice only, no mandatory emission cuts"),
    "cross_border": ("跨境传输污染过程：发布健康防护提示", "cross-border episode: health advice only"),
    "unknown": ("污染过程类型未定", "episode type unknown"),
}


def episode_type(primary: str, cause: str | None = None) -> dict:
    """Episode type and response: a known ``cause`` (dust, wildfire, ...) overrides the one
    read from the primary pollutant."""
    kind = cause if cause in NOTE else EPISODE_OF.get(primary, "unknown")
    zh, en = NOTE[kind]
    return {"type": kind, "response": "emission_cuts" if kind in CUTS else "health_advice",
            "note_zh": zh, "note_en": en}


def majority_level(levels: list[str]) -> str:
    """The highest level reached by more than half of ``levels``."""
    ranked = sorted(levels, key=lambda x: -RANK[x])
    return ranked[len(ranked) // 2]
