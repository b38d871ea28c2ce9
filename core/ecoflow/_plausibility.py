"""Gauge plausibility along a river: is one gauge off while its neighbours agree?

Each gauge is compared with what reaches it: the upstream gauge (plus tributaries joining
above it) lagged by the catalogue's travel time. The log ratio of a pair, less its median
over the window (lateral inflow and abstraction make it non-zero), is the pair's deviation.
A river event travels, so with the lag applied the pair stays near its median; a gauge
reading off by a factor ``k`` shifts its in-pair by ``+log k`` and its out-pair by
``-log k`` at the same reading. A gauge is suspect at an hour when:

* both pairs are available and deviate beyond ``log(factor)`` with opposite signs; or
* only its in-pair is available (last gauge, or downstream data not in yet) and it deviates
  while the upstream gauge's own in-pair is normal (so the upstream gauge is not to blame);
* only its out-pair is available (first gauge) and it deviates while the downstream gauge's
  out-pair is normal.

Limits: a river with one gauge (the Fen at Hejin) cannot be checked; a fault lasting more
than half the window moves the median; a genuine event between the last two gauges looks
like a fault of the last one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from core.catalogue import Catalogue

from ._daily import hourly_discharge


@dataclass(frozen=True)
class GaugeCheck:
    factor: float = 2.0        # a pair deviating by more than this ratio is broken
    min_hours: int = 3         # suspect hours needed before a gauge is called suspect
    baseline_days: int = 7     # each pair's median ratio is taken over this many days
    rivers: tuple[str, ...] = ("wei",)


@dataclass
class Suspect:
    station: str
    section: str
    hours: list[pd.Timestamp] = field(default_factory=list)
    deviation: float = 1.0     # median ratio of the reading to what its neighbours say

    def evidence(self) -> dict:
        return {"station": self.station, "section": self.section, "suspect_hours": len(self.hours),
                "first": self.hours[0].isoformat() if self.hours else None,
                "last": self.hours[-1].isoformat() if self.hours else None,
                "ratio_to_neighbours": round(float(self.deviation), 2)}


def _chain(cat: Catalogue, river: str) -> list:
    return list(cat.river_sections(river))


def _tributaries(cat: Catalogue, river: str) -> dict[str, list]:
    """section id -> tributary sections (their lowest gauge) joining just above it."""
    out: dict[str, list] = {}
    for r in cat.rivers.values():
        if r.joins == river and r.joins_above and r.sections:
            out.setdefault(r.joins_above, []).append(cat.sections[r.sections[-1]])
    return out


def _lagged(q: pd.DataFrame, station: str, hours: float) -> pd.Series:
    s = q[station] if station in q else pd.Series(np.nan, index=q.index)
    return s.shift(int(round(hours)))


def pair_deviations(q: pd.DataFrame, cat: Catalogue, river: str) -> dict[str, pd.Series]:
    """Per gauge station of ``river``: the log deviation of its in-pair (index = its hours)."""
    chain, tribs = _chain(cat, river), _tributaries(cat, river)
    out = {}
    for up, sec in zip(chain, chain[1:]):
        expected = _lagged(q, up.station, up.travel_h_to_next)
        for t in tribs.get(sec.id, ()):
            expected = expected + _lagged(q, t.station, t.travel_h_to_next)
        here = q[sec.station] if sec.station in q else pd.Series(np.nan, index=q.index)
        ratio = np.log(here.where(here > 0) / expected.where(expected > 0))
        out[sec.station] = ratio - ratio.median()
    return out


def _suspect_mask(q: pd.DataFrame, cat: Catalogue, river: str, lim: float) -> dict[str, pd.Series]:
    chain = _chain(cat, river)
    dev = pair_deviations(q, cat, river)
    nan = pd.Series(np.nan, index=q.index)
    out = {}
    for i, sec in enumerate(chain):
        d_in = dev.get(sec.station, nan)
        down = chain[i + 1] if i + 1 < len(chain) else None
        d_out = dev[down.station].shift(-int(round(sec.travel_h_to_next))) if down else nan
        up = chain[i - 1] if i > 0 else None
        up_other = dev.get(up.station, nan).shift(int(round(up.travel_h_to_next))) if up \
            else nan
        down2 = chain[i + 2] if i + 2 < len(chain) else None
        down_other = dev[down2.station].shift(-int(round(sec.travel_h_to_next +
                                                         down.travel_h_to_next))) \
            if down2 is not None else nan
        both = (d_in.abs() > lim) & (d_out.abs() > lim) & (np.sign(d_in) == -np.sign(d_out))
        only_in = d_out.isna() & (d_in.abs() > lim) & (up_other.abs() <= lim)
        only_out = d_in.isna() & (d_out.abs() > lim) & (down_other.abs() <= lim)
        score = d_in.where(d_in.notna(), -d_out)
        out[sec.station] = pd.DataFrame({"bad": both | only_in | only_out, "dev": score})
    return out


def hourly_matrix(store, cat: Catalogue, start: datetime, end: datetime,
                  rivers: tuple[str, ...]) -> pd.DataFrame:
    """Valid hourly discharge, one column per gauge station of the rivers and tributaries."""
    names = set(rivers)
    names |= {r.id for r in cat.rivers.values() if r.joins in rivers}
    stations = sorted({cat.sections[s].station for r in names for s in cat.rivers[r].sections})
    raw = store.raw("hydro", stations, ["discharge", "stage"], start, end)
    hourly = hourly_discharge(raw, {})
    grid = pd.date_range(pd.Timestamp(start).tz_convert("UTC").floor("h"),
                         pd.Timestamp(end).tz_convert("UTC").ceil("h"), freq="h",
                         inclusive="left")
    q = hourly.pivot(index="hour", columns="station", values="q") if len(hourly) else \
        pd.DataFrame(index=grid)
    return q.reindex(grid)


def suspect_gauges(store, cat: Catalogue, start: datetime, end: datetime,
                   check: GaugeCheck = GaugeCheck()) -> dict[str, Suspect]:
    """Gauges whose readings in [start, end) look wrong while their neighbours agree."""
    lag = timedelta(hours=sum(s.travel_h_to_next for r in check.rivers
                              for s in cat.river_sections(r)) + 24)
    q = hourly_matrix(store, cat, min(start - lag, end - timedelta(days=check.baseline_days)),
                      end, check.rivers)
    lim = float(np.log(check.factor))
    out: dict[str, Suspect] = {}
    for river in check.rivers:
        for station, m in _suspect_mask(q, cat, river, lim).items():
            m = m[(m.index >= pd.Timestamp(start)) & (m.index < pd.Timestamp(end))]
            bad = m[m["bad"]]
            if len(bad) >= check.min_hours:
                sec = next(s for s in cat.river_sections(river) if s.station == station)
                out[station] = Suspect(station, sec.id, list(bad.index),
                                       float(np.exp(bad["dev"].median())))
    return out


def suspect_hours(suspects: dict[str, Suspect]) -> pd.DataFrame:
    """(station, hour) rows to leave out of daily means."""
    rows = [(s.station, h) for s in suspects.values() for h in s.hours]
    return pd.DataFrame(rows, columns=["station", "hour"])
