"""Fen-Wei regional joint warning (kind ``air.regional``, 区域应急联动).

Periodic: grades every Fen-Wei city's forecast as the ``warning_rule`` does (grading, city
triggers, holding); when at least ``min_cities`` are at ``min_level`` or above in overlapping
windows, one alert on ``subject`` (default ``region:fenwei``) at the level most of them
reach, covering those cities. Every covered city's ``air_warning`` is then no lower than that
level, and the platform routes the alert to every covered city's team, their provincial
bureaus and the coordinator in one message each.

External prompts (:meth:`prompt_signal`, called by ``AlertService.regional_prompt``) are
alerts on ``region:prompt-<id>`` with the same effect until their ``valid_until``.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Sequence

from core.timeutil import CST

from .._levels import NAME_ZH, RANK, RESPONSE_ZH, check_level
from ..warnings import RESPONSE_EN, Grader, get_grading, majority_level
from ._base import PeriodicRule, RuleConfig, RuleContext, Signal, duration

PROMPT_PREFIX = "region:prompt-"


class RegionalConfig(RuleConfig):
    warning_rule: str = "air-warning"   # grade cities as this air_warning rule does
    cities: list[str] = []              # default: the catalogue's Fen-Wei cities
    min_cities: int = 3
    min_level: str = "yellow"
    subject: str = "region:fenwei"
    prompt_hours: float = 72            # default validity of an external prompt
    every: str = "1h"


def _cn(cat, cities) -> str:
    return "、".join(cat.cities[c].name_zh for c in cities if c in cat.cities)


def _t(ts: datetime) -> str:
    return ts.astimezone(CST).strftime("%m-%d %H:%M")


class RegionalRule(PeriodicRule):
    config_model = RegionalConfig

    def __init__(self, config: RegionalConfig, catalogue) -> None:
        super().__init__(config, catalogue)
        check_level(config.min_level)
        if config.min_cities < 1:
            raise ValueError("min_cities must be at least 1")
        if not config.subject.startswith("region:"):
            raise ValueError("subject must be region:<name>")
        unknown = [c for c in config.cities if c not in catalogue.cities]
        if unknown:
            raise ValueError(f"unknown cities {unknown}")
        self.cities = list(config.cities or [c.slug for c in catalogue.fenwei_cities()])
        self.every = duration(config.every)

    def _grader(self, ctx: RuleContext) -> Grader:
        rule = ctx.rules.get(self.config.warning_rule)
        return getattr(rule, "grader", None) or Grader(get_grading())

    # ------------------------------------------------------------------ forecast-driven
    def evaluate_context(self, ctx: RuleContext) -> list[tuple[str, Signal]]:
        c = self.config
        grader = self._grader(ctx)
        cur = ctx.open_alert(self.id, c.subject)
        covered = (cur["evidence"] or {}).get("cities", []) if cur else []
        held = {}
        for city in self.cities:
            prior = cur["level"] if cur and city in covered else None
            a = grader.assess(ctx.forecast(city), city, ctx.now, prior)
            if a.level and RANK[a.level] >= RANK[c.min_level]:
                g, seq_start = a.grade, a.evidence.get("aqi", {}).get("start")
                if g.first is not None:
                    win = (datetime.fromisoformat(a.evidence["onset"]),
                           datetime.fromisoformat(a.evidence["end"]))
                else:  # held: in force at least until it can be lifted
                    start = datetime.fromisoformat(seq_start) if seq_start else ctx.now
                    win = (start, start + timedelta(hours=grader.lift_after_h))
                held[city] = (a.level, win, a.evidence)
        group, at = self._overlap(held)
        out = [(c.subject, self._signal(ctx, held, group, at))]
        return out + self._expired_prompts(ctx)

    @staticmethod
    def _overlap(held: dict) -> tuple[list[str], datetime | None]:
        """The largest set of cities whose windows share an hour (the earliest such hour)."""
        best, at = [], None
        for t in sorted({w[0] for _, w, _ in held.values()}):
            group = sorted(city for city, (_, w, _) in held.items() if w[0] <= t <= w[1])
            if len(group) > len(best):
                best, at = group, t
        return best, at

    def _signal(self, ctx, held, group, at) -> Signal:
        c = self.config
        levels = {city: held[city][0] for city in group}
        ev = {"source": "forecast", "certainty": "Likely", "min_cities": c.min_cities,
              "min_level": c.min_level,
              "candidates": {city: v[0] for city, v in held.items()}}
        if len(group) < c.min_cities:
            ev["reason"] = (f"{len(group)} Fen-Wei cities at {c.min_level} or above in "
                            f"overlapping windows (< {c.min_cities})")
            return Signal("clear", ctx.now, None, ev)
        level = majority_level(list(levels.values()))
        start = max(held[x][1][0] for x in group)
        end = min(held[x][1][1] for x in group)
        ev.update(cities=group, levels=levels, level=level, response_zh=RESPONSE_ZH[level],
                  response_en=RESPONSE_EN[level],
                  window={"start": start.isoformat(), "end": end.isoformat()},
                  forecasts={x: held[x][2].get("forecast") for x in group})
        each = "、".join(f"{self.cat.cities[x].name_zh}{NAME_ZH[levels[x]]}" for x in group)
        ev["detail_zh"] = (f"汾渭平原{len(group)}个城市预报达到预警（{each}），重叠时段 "
                           f"{_t(start)}—{_t(end)}；区域联动：{_cn(self.cat, group)}不低于"
                           f"{NAME_ZH[level]}预警，启动{RESPONSE_ZH[level]}响应。")
        ev["detail_en"] = (f"{len(group)} Fen-Wei cities forecast at warning level "
                           f"({', '.join(f'{x} {levels[x]}' for x in group)}), overlapping "
                           f"{_t(start)}–{_t(end)} CST; regional joint response: at least "
                           f"{level} (response level {RESPONSE_EN[level]}) in each.")
        return Signal("firing", ctx.now, level, ev, tuple(group))

    # ------------------------------------------------------------------ external prompts
    def prompt_signal(self, level: str, cities: Sequence[str], issued_by: str, note: str,
                      valid_until: datetime | None, now: datetime) -> tuple[str, Signal]:
        """(subject, signal) of an externally issued regional prompt."""
        check_level(level)
        cities = list(dict.fromkeys(cities))
        unknown = [x for x in cities if x not in self.cat.cities]
        if not cities or unknown:
            raise ValueError(f"a prompt needs known cities (unknown: {unknown})")
        until = valid_until or now + timedelta(hours=self.config.prompt_hours)
        if until <= now:
            raise ValueError("valid_until must be in the future")
        ev = {"source": "prompt", "certainty": "Likely", "issued_by": issued_by, "note": note,
              "cities": cities,
              "level": level, "valid_until": until.isoformat(),
              "response_zh": RESPONSE_ZH[level], "response_en": RESPONSE_EN[level],
              "detail_zh": f"区域应急联动提示（{issued_by}）：{_cn(self.cat, cities)}不低于"
                           f"{NAME_ZH[level]}预警，启动{RESPONSE_ZH[level]}响应，有效至 "
                           f"{_t(until)}。{note}".strip(),
              "detail_en": f"Regional prompt by {issued_by}: at least a {level} warning "
                           f"(response level {RESPONSE_EN[level]}) in {', '.join(cities)} "
                           f"until {_t(until)} CST. {note}".strip()}
        subject = f"{PROMPT_PREFIX}{uuid.uuid4().hex[:12]}"
        return subject, Signal("firing", now, level, ev, tuple(cities))

    def _expired_prompts(self, ctx: RuleContext) -> list[tuple[str, Signal]]:
        out = []
        for a in ctx.open_alerts:
            until = (a["evidence"] or {}).get("valid_until")
            if a["rule_id"] == self.id and a["subject"].startswith(PROMPT_PREFIX) and until \
                    and datetime.fromisoformat(until) <= ctx.now:
                ev = dict(a["evidence"], reason="prompt expired")
                out.append((a["subject"], Signal("clear", ctx.now, None, ev)))
        return out
