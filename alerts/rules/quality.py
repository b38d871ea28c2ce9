"""Data-quality rules (kinds ``quality.*``): the data, not the air or the river, is wrong.

* ``gauge_plausibility`` (``quality.gauge``): a Wei gauge off while its neighbours agree
  (:func:`core.ecoflow.suspect_gauges`); the eco-flow rule leaves that gauge's suspect hours
  out, so the fault raises this alert and no river alert.
* ``stuck_value`` (``quality.stuck``): the same value ``min_readings`` times in a row.
* ``flag_overrun`` (``quality.maintenance``): calibration (C) or maintenance (M) flags running
  longer than scheduled (``max_c`` / ``max_m``).
* ``city_completeness`` (``quality.completeness``): fewer than ``min_hours`` of the last 24
  hours in which at least ``station_share`` of a city's stations gave a valid value (its daily
  AQI cannot be computed). Not raised for silence another alert already explains (pipeline
  down, site offline).
* ``clock_skew`` (``quality.clock``): an edge agent's ``qc.clock_skew`` counter went up.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from core.flags import VALID_FLAGS

from .._levels import check_level
from core.ecoflow import GaugeCheck, suspect_gauges
from ._base import PeriodicRule, RuleConfig, Signal, duration
from .liveness import EdgeStatusBoard, LivenessConfig, assess


class QualityConfig(RuleConfig):
    level: str = "blue"
    every: str = "15m"
    cities: list[str] = []


class _QualityRule(PeriodicRule):
    config_model = QualityConfig

    def __init__(self, config, catalogue) -> None:
        super().__init__(config, catalogue)
        check_level(config.level)
        self.every = duration(config.every)
        self.board: EdgeStatusBoard | None = None

    def bind(self, context: dict) -> None:
        self.board = context.get("edge_status", self.board)

    def _stations(self, kind: str) -> list:
        c = self.config
        return [s for s in self.cat.stations.values()
                if s.kind == kind and (not c.cities or s.city in c.cities)]

    def _fire(self, ev: dict, now: datetime) -> Signal:
        return Signal("firing", now, self.config.level, ev)


class GaugeConfig(QualityConfig):
    window: str = "24h"
    factor: float = 3.0
    min_hours: int = 3
    level: str = "yellow"


class GaugePlausibilityRule(_QualityRule):
    config_model = GaugeConfig

    def evaluate(self, store, now: datetime) -> list[tuple[str, Signal]]:
        c = self.config
        check = GaugeCheck(c.factor, c.min_hours)
        suspects = suspect_gauges(store, self.cat, now - duration(c.window), now, check)
        out = []
        for river in check.rivers:
            for sec in self.cat.river_sections(river):
                s = suspects.get(sec.station)
                sig = self._fire(s.evidence(), now) if s else \
                    Signal("clear", now, None, {"station": sec.station})
                out.append((f"station:{sec.station}", sig))
        return out


class StuckConfig(QualityConfig):
    kind_of_station: str = "air"
    params: list[str] = ["pm25", "pm10"]
    window: str = "24h"               # readings looked at (enough for min_readings hourly)
    min_readings: int = 6


class StuckValueRule(_QualityRule):
    config_model = StuckConfig

    def evaluate(self, store, now: datetime) -> list[tuple[str, Signal]]:
        c = self.config
        ids = [s.id for s in self._stations(c.kind_of_station)]
        raw = store.raw(c.kind_of_station, ids, c.params, now - duration(c.window), now)
        out = []
        for sid, g in raw.groupby("station", sort=True):
            stuck = {p: n for p in c.params if (n := _run(g[p].dropna())) >= c.min_readings}
            ev = {"station": sid, "stuck": stuck}
            out.append((f"station:{sid}", self._fire(ev, now) if stuck else
                        Signal("clear", now, None, ev)))
        return out


def _run(values: pd.Series) -> int:
    """Length of the trailing run of identical values."""
    if values.empty:
        return 0
    v = values.to_numpy()
    n = 1
    while n < len(v) and v[-1 - n] == v[-1]:
        n += 1
    return n


class FlagConfig(QualityConfig):
    kind_of_station: str = "air"
    max_c: str = "4h"                 # calibration longer than this
    max_m: str = "8h"                 # maintenance longer than this
    lookback: str = "2d"


class FlagOverrunRule(_QualityRule):
    config_model = FlagConfig

    def evaluate(self, store, now: datetime) -> list[tuple[str, Signal]]:
        c = self.config
        params = [p.name for p in self.cat.params_of(c.kind_of_station)]
        ids = [s.id for s in self._stations(c.kind_of_station)]
        raw = store.raw(c.kind_of_station, ids, params, now - duration(c.lookback), now)
        limits = {"C": duration(c.max_c), "M": duration(c.max_m)}
        out = []
        for sid, g in raw.groupby("station", sort=True):
            flags = g[[f"{p}_flag" for p in params]]
            ev = {"station": sid}
            for flag, limit in limits.items():
                on = flags.eq(flag).any(axis=1).to_numpy()
                if on[-1]:
                    i = len(on) - 1
                    while i > 0 and on[i - 1]:
                        i -= 1
                    since = g["time"].iloc[i].to_pydatetime()
                    if now - since > limit:
                        ev.update(flag=flag, since=since.isoformat(),
                                  scheduled_s=limit.total_seconds())
            out.append((f"station:{sid}", self._fire(ev, now) if "flag" in ev else
                        Signal("clear", now, None, ev)))
        return out


class CompletenessConfig(QualityConfig):
    parameter: str = "pm25"
    min_hours: int = 20               # hours a daily AQI needs
    station_share: float = 0.5        # of the city's stations for an hour to count
    every: str = "1h"


class CityCompletenessRule(_QualityRule):
    config_model = CompletenessConfig

    def evaluate(self, store, now: datetime) -> list[tuple[str, Signal]]:
        c = self.config
        end = now.replace(minute=0, second=0, microsecond=0)
        start = end - timedelta(hours=24)
        stations = self._stations("air")
        raw = store.raw("air", [s.id for s in stations], [c.parameter], start, end)
        ok = raw[raw[f"{c.parameter}_flag"].isin(VALID_FLAGS) & raw[c.parameter].notna()]
        hours = ok.assign(hour=ok["time"].dt.floor("h")).groupby(["station", "hour"]).size()
        per_hour = hours.reset_index()[["station", "hour"]]
        live = assess(store, self.board, self.cat, LivenessConfig(id="-", type="-", kind="x.y"),
                      now)
        out = []
        by_city: dict[str, list[str]] = {}
        for s in stations:
            by_city.setdefault(s.city, []).append(s.id)
        for city, ids in sorted(by_city.items()):
            seen = [i for i in ids if i in live.last]
            if not seen:
                continue  # no station of the city ever reported: not monitored
            rows = per_hour[per_hour["station"].isin(ids)]
            counts = rows.groupby("hour").size()
            good = int((counts >= c.station_share * len(seen)).sum())
            missing = [i for i in seen if i in live.silent]
            ev = {"city": city, "hours_complete": good, "min_hours": c.min_hours,
                  "window_end": end.isoformat(), "silent_stations": missing}
            if good >= c.min_hours:
                sig = Signal("clear", now, None, ev)
            elif missing and all(i in live.covered for i in missing):
                ev["covered_by"] = sorted({live.covered[i] for i in missing})
                sig = Signal("insufficient", now, None, ev)
            else:
                sig = Signal("firing", now, c.level, ev, (city,))
            out.append((f"city:{city}", sig))
        return out


class ClockSkewRule(_QualityRule):
    """Compares each status's ``qc.clock_skew`` counter with the one seen the run before."""

    def __init__(self, config, catalogue) -> None:
        super().__init__(config, catalogue)
        self._seen: dict[str, tuple[int, datetime | None]] = {}

    def evaluate(self, store, now: datetime) -> list[tuple[str, Signal]]:
        out = []
        for sid, st in sorted((self.board.snapshot() if self.board else {}).items()):
            n = int(st.counters.get("qc.clock_skew", 0) or 0)
            prev, last_rise = self._seen.get(sid, (None, None))
            if n > (prev if prev is not None else 0):
                last_rise = now
            self._seen[sid] = (n, last_rise)
            ev = {"station": sid, "agent": st.agent, "clock_skew_count": n}
            rising = last_rise is not None and now - last_rise < 2 * self.every
            out.append((f"station:{sid}", self._fire(ev, now) if rising else
                        Signal("clear", now, None, ev)))
        return out


RULES = {"gauge_plausibility": GaugePlausibilityRule, "stuck_value": StuckValueRule,
         "flag_overrun": FlagOverrunRule, "city_completeness": CityCompletenessRule,
         "clock_skew": ClockSkewRule}
