"""Periodic liveness rule: a station whose newest reading is older than ``after`` is offline."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from .._levels import check_level
from ._base import PeriodicRule, RuleConfig, Signal, duration


class OfflineConfig(RuleConfig):
    station_kind: Literal["air", "hydro"] = "air"
    cities: list[str] = []
    after: str = "2h"
    level: str = "blue"
    every: str = "5m"


class StationOfflineRule(PeriodicRule):
    config_model = OfflineConfig

    def __init__(self, config: OfflineConfig, catalogue) -> None:
        super().__init__(config, catalogue)
        check_level(config.level)
        self.after = duration(config.after)
        self.every = duration(config.every)

    def evaluate(self, store, now: datetime) -> list[tuple[str, Signal]]:
        c = self.config
        stations = [s for s in self.cat.stations.values()
                    if s.kind == c.station_kind and (not c.cities or s.city in c.cities)]
        frame = store.latest(c.station_kind, [s.id for s in stations])
        last = {}
        if len(frame):
            for sid, t in zip(frame["station"], frame["time"]):
                last[sid] = t.to_pydatetime() if hasattr(t, "to_pydatetime") else t
        out = []
        for s in stations:
            seen = last.get(s.id)
            ev = {"station": s.id, "last_reading": seen.isoformat() if seen else None,
                  "after_s": self.after.total_seconds()}
            if seen is None or now - seen > self.after:
                out.append((f"station:{s.id}", Signal("firing", now, c.level, ev)))
            else:
                out.append((f"station:{s.id}", Signal("clear", now, None, ev)))
        return out


