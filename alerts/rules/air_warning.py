"""Heavy-pollution weather warning per city (kind ``air.warning``), from the city's forecast.

Periodic: every ``every`` it grades each city's forecast rolling-24 h AQI with the grading
(``alerts/warnings/gradings.toml``) plus the city's stricter triggers, holds the level in
force until the forecast stays below its trigger for more than ``lift_after``, and raises it
to any regional minimum level (``air.regional`` alerts) covering the city. Subject
``city:<slug>``.
"""
from __future__ import annotations

from typing import Literal

from .._levels import NAME_ZH, RESPONSE_ZH, check_level, higher
from ..warnings import (RESPONSE_EN, Criterion, Grader, check_city_triggers, get_grading,
                        regional_floor)
from ._base import PeriodicRule, RuleConfig, RuleContext, Signal, duration


def hours(v: str) -> int:
    return int(duration(v).total_seconds() // 3600)


class AirWarningConfig(RuleConfig):
    grading: str = ""                       # a grading id; "" = the file's default (2024)
    gradings_file: str | None = None        # default: the packaged gradings.toml
    cities: list[str] = []                  # default: every catalogue city
    city_triggers: dict[str, dict[str, list[Criterion]]] = {}
    merge_gap: str = "12h"                  # clean gaps this short join two episodes
    lift_after: str = "36h"                 # down/lift only after more than this below
    min_lead: str = "24h"                   # evidence 'ahead' = onset at least this ahead
    quantile: Literal["q10", "q50", "q90"] = "q50"
    regional_kinds: list[str] = ["air.regional"]
    every: str = "1h"


def make_grader(c, catalogue) -> Grader:
    check_city_triggers(c.city_triggers, catalogue)
    return Grader(get_grading(c.grading, c.gradings_file), c.city_triggers,
                  merge_gap_h=hours(c.merge_gap), lift_after_h=hours(c.lift_after),
                  quantile=c.quantile, min_lead_h=hours(c.min_lead))


class AirWarningRule(PeriodicRule):
    config_model = AirWarningConfig

    def __init__(self, config: AirWarningConfig, catalogue) -> None:
        super().__init__(config, catalogue)
        unknown = [c for c in config.cities if c not in catalogue.cities]
        if unknown:
            raise ValueError(f"unknown cities {unknown}")
        self.cities = list(config.cities or catalogue.cities)
        self.grader = make_grader(config, catalogue)
        self.every = duration(config.every)

    def evaluate_context(self, ctx: RuleContext) -> list[tuple[str, Signal]]:
        return [(f"city:{city}", self.assess(ctx, city)) for city in self.cities]

    def assess(self, ctx: RuleContext, city: str) -> Signal:
        cur = ctx.open_alert(self.id, f"city:{city}")
        a = self.grader.assess(ctx.forecast(city), city, ctx.now, cur["level"] if cur else None)
        level, ev = a.level, dict(a.evidence)
        floor = regional_floor(ctx.open_alerts, city, self.config.regional_kinds, ctx.now)
        if floor is not None and higher(floor["level"], level):
            level = floor["level"]
            ev.update(level=level, basis="regional", regional=floor, own_level=a.level)
            ev.update(_regional_detail(floor, ev))
        elif floor is not None:
            ev["regional"] = floor
        if level is None:
            return Signal("insufficient" if a.basis == "insufficient" else "clear",
                          ctx.now, None, ev)
        if a.basis == "insufficient" and level == a.level:
            return Signal("insufficient", ctx.now, level, ev)
        return Signal("firing", ctx.now, check_level(level), ev)


def _regional_detail(floor: dict, ev: dict) -> dict:
    lv = floor["level"]
    by = f"（{floor['issued_by']}发布）" if floor.get("issued_by") else ""
    zh = (f"区域应急联动{by}：本市不低于{NAME_ZH[lv]}预警，启动{RESPONSE_ZH[lv]}响应。"
          + (ev.get("detail_zh") or ""))
    en = (f"Regional joint response{' by ' + floor['issued_by'] if floor.get('issued_by') else ''}"
          f": at least a {lv} warning in this city (response level {RESPONSE_EN[lv]}). "
          + (ev.get("detail_en") or ""))
    return {"detail_zh": zh, "detail_en": en, "response_zh": RESPONSE_ZH[lv],
            "response_en": RESPONSE_EN[lv]}
