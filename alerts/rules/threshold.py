"""Generic streaming threshold rule: parameter > threshold for a duration, with hysteresis.

Evaluated on observation time. Per ``station`` (subject ``station:<id>``) or per ``city``
(subject ``city:<slug>``: a level holds when at least ``min_stations`` stations hold it).
Values whose flags make them invalid are ignored; when too few valid values arrive within
``data_window`` the rule says "insufficient" instead of "clear". A T-flagged value (above
the instrument's range) is a lower bound of the true value: it can raise or hold a level
but never lowers or clears one, and the evidence says ``value_is_lower_bound``.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from core.flags import is_lower_bound, is_valid

from .._levels import RANK, check_level
from ._base import RuleConfig, Signal, StreamingRule, duration


class LevelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    level: str
    above: float
    clear_below: float | None = None
    duration: str | None = None

    @model_validator(mode="after")
    def _check(self):
        check_level(self.level)
        if self.clear_below is not None and self.clear_below > self.above:
            raise ValueError(f"{self.level}: clear_below must not exceed above")
        return self


class ThresholdConfig(RuleConfig):
    parameter: str
    per: Literal["station", "city"] = "station"
    cities: list[str] = []
    stations: list[str] = []
    levels: list[LevelSpec]
    duration: str = "0s"
    clear_for: str = "0s"
    min_hold: str = "0s"
    min_stations: int = 1
    data_window: str = "1h"
    min_valid_fraction: float = 0.5
    max_gap: str = "2h"

    @model_validator(mode="after")
    def _check(self):
        if not self.levels:
            raise ValueError("at least one level")
        ranks = [RANK[x.level] for x in self.levels]
        if len(set(ranks)) != len(ranks):
            raise ValueError("a level appears twice")
        for d in (self.duration, self.clear_for, self.min_hold, self.data_window, self.max_gap):
            duration(d)
        return self


def _ep(ts: datetime) -> float:
    return ts.timestamp()


class ThresholdRule(StreamingRule):
    config_model = ThresholdConfig

    def __init__(self, config: ThresholdConfig, catalogue) -> None:
        super().__init__(config, catalogue)
        c = config
        if c.parameter not in catalogue.parameters:
            raise ValueError(f"rule {c.id}: unknown parameter {c.parameter!r}")
        self.specs = sorted(c.levels, key=lambda s: RANK[s.level])
        self.dur = {s.level: duration(s.duration or c.duration).total_seconds() for s in self.specs}
        self.clear_for = duration(c.clear_for).total_seconds()
        self.min_hold = duration(c.min_hold).total_seconds()
        self.window = duration(c.data_window).total_seconds()
        self.max_gap = duration(c.max_gap).total_seconds()
        self.unit = catalogue.parameters[c.parameter].unit
        self._by_level = {s.level: s for s in self.specs}

    # -- which readings feed which subject
    def subjects(self, reading):
        c = self.config
        if c.parameter not in reading.values:
            return ()
        if c.cities and reading.city not in c.cities:
            return ()
        if c.stations and reading.station not in c.stations:
            return ()
        return (f"city:{reading.city}",) if c.per == "city" else (f"station:{reading.station}",)

    # -- evaluation
    def step(self, subject: str, state: dict, reading) -> Signal | None:
        tracks = state.setdefault("tracks", {})
        tr = tracks.setdefault(reading.station, {"last": None, "above": {}, "held": None,
                                                 "held_since": None, "below_since": None,
                                                 "recent": [], "last_valid": None})
        ts = _ep(reading.ts)
        if tr["last"] is not None and ts <= tr["last"]:
            return None  # duplicate or out-of-order: observation time only moves forward
        tr["last"] = ts
        p = self.config.parameter
        valid = is_valid(reading.flags.get(p))
        tr["recent"] = [r for r in tr["recent"] if r[0] > ts - self.window] + [[ts, int(valid)]]
        if valid:
            tr["last_valid"] = ts
            tr["value"] = reading.values[p]
            tr["lower_bound"] = is_lower_bound(reading.flags.get(p))
            self._fold(tr, ts, reading.values[p], tr["lower_bound"])
        return self._assess(state, reading.ts, reading.station)

    def _fold(self, tr: dict, ts: float, v: float, lower_bound: bool = False) -> None:
        for s in self.specs:
            if v > s.above:
                tr["above"].setdefault(s.level, ts)
            elif not lower_bound:   # "at least v" does not show the value is below
                tr["above"].pop(s.level, None)
        up = None
        for s in self.specs:
            since = tr["above"].get(s.level)
            if since is not None and ts - since >= self.dur[s.level]:
                up = s.level
        held = tr["held"]
        if up is not None and (held is None or RANK[up] > RANK[held]):
            tr.update(held=up, held_since=ts, below_since=None)
            return
        if held is None:
            return
        spec = self._by_level[held]
        clear = spec.clear_below if spec.clear_below is not None else spec.above
        if v >= clear or lower_bound:
            tr["below_since"] = None
            return
        tr["below_since"] = tr["below_since"] or ts
        if ts - tr["below_since"] >= self.clear_for and ts - tr["held_since"] >= self.min_hold:
            new = up
            for s in self.specs:
                c = s.clear_below if s.clear_below is not None else s.above
                if RANK[s.level] < RANK[held] and v >= c and (new is None or
                                                                RANK[s.level] > RANK[new]):
                    new = s.level
            tr.update(held=new, held_since=ts, below_since=None)

    def _track_status(self, tr: dict, now: float) -> tuple[str | None, str | None, bool]:
        recent = [r for r in tr["recent"] if r[0] > now - self.window]
        frac = sum(r[1] for r in recent) / len(recent) if recent else 0.0
        gap = tr["last_valid"] is None or now - tr["last_valid"] > self.max_gap
        insufficient = frac < self.config.min_valid_fraction or gap
        pend = max(tr["above"], key=RANK.__getitem__, default=None)
        return tr["held"], pend, insufficient

    def _assess(self, state: dict, at: datetime, station: str | None = None) -> Signal:
        now = _ep(at)
        per_level: dict[str, list[str]] = {}
        pending, insufficient, ok = None, [], []
        for sid, tr in state["tracks"].items():
            held, pend, insuf = self._track_status(tr, now)
            for s in self.specs:
                if held is not None and RANK[held] >= RANK[s.level]:
                    per_level.setdefault(s.level, []).append(sid)
            if pend is not None and (pending is None or RANK[pend] > RANK[pending]):
                pending = pend
            (insufficient if insuf else ok).append(sid)
        level = None
        for s in self.specs:
            if len(per_level.get(s.level, ())) >= self.config.min_stations:
                level = s.level
        ev = self._evidence(state, station, level or pending, per_level, insufficient)
        if level is not None:
            return Signal("firing", at, level, ev)
        if not ok:
            return Signal("insufficient", at, None, ev)
        if pending is not None:
            return Signal("pending", at, pending, ev)
        return Signal("clear", at, None, ev)

    def _evidence(self, state, station, level, per_level, insufficient) -> dict:
        c = self.config
        ev = {"parameter": c.parameter, "unit": self.unit, "per": c.per}
        tr = state["tracks"].get(station) if station else None
        if tr is not None:
            ev.update(station=station, value=tr.get("value"),
                      valid_fraction=round(self._frac(tr), 3))
            if tr.get("lower_bound"):
                ev["value_is_lower_bound"] = True
        if level is not None:
            spec = self._by_level[level]
            ev.update(threshold=spec.above, clear_below=spec.clear_below,
                      duration_s=self.dur[level])
            since = [tr2["above"].get(level) or tr2.get("held_since")
                     for tr2 in state["tracks"].values() if tr2["held"] or tr2["above"]]
            since = [s for s in since if s]
            if since:
                ev["since"] = datetime.fromtimestamp(min(since), timezone.utc).isoformat()
            ev["stations"] = sorted(per_level.get(level, []))
        if insufficient:
            ev["insufficient_stations"] = sorted(insufficient)
        return ev

    @staticmethod
    def _frac(tr: dict) -> float:
        return sum(r[1] for r in tr["recent"]) / len(tr["recent"]) if tr["recent"] else 0.0

    def on_tick(self, subject: str, state: dict, now: datetime) -> Signal | None:
        if not state.get("tracks"):
            return None
        last = max(tr["last"] or 0 for tr in state["tracks"].values())
        if now.timestamp() - last <= self.max_gap:
            return None  # data keeps coming: readings carry the assessment
        return self._assess(state, now)
