"""Grading an hourly forecast sequence: episodes, merged gaps, criteria, holding and lifting.

Hours are positions in an :class:`AqiSequence` (one value per forecast hour from ``start``).
Missing values (NaN) are never "clean": they end neither an episode's gap check nor start a
lifting run, and a condition on them is neither met nor ruled out.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from .._levels import RANK
from ._grading import Criterion, Grading

HOUR = timedelta(hours=1)


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
    """The highest level the sequence meets, the criterion and the hours it spans."""

    level: str | None
    criterion: str = ""
    first: int | None = None
    last: int | None = None


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


def match(seq: AqiSequence, crit: Criterion, merge_gap: int) -> tuple[int, int] | None:
    """First (first, last) hours where every condition of ``crit`` has an episode long enough,
    the episodes overlapping the first condition's; None when not met."""
    if not _usable(seq, crit):
        return None
    per = [[e for e in episodes(_above(seq.values(c.indicator), c.above), merge_gap)
            if e[2] >= c.hours] for c in crit.all]
    for first, last, _ in per[0]:
        spans = [(first, last)]
        for eps in per[1:]:
            hit = next(((a, b) for a, b, _ in eps if a <= last and b >= first), None)
            if hit is None:
                break
            spans.append(hit)
        else:
            return min(a for a, _ in spans), max(b for _, b in spans)
    return None


def grade(seq: AqiSequence, grading: Grading, merge_gap: int) -> Grade:
    for level, crits in grading.ordered():
        for crit in crits:
            span = match(seq, crit, merge_gap)
            if span is not None:
                return Grade(level, crit.label(), *span)
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
