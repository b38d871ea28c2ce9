"""What every rule type provides, and the signal a rule emits.

A rule returns its *current assessment* of a subject each time it is evaluated; the lifecycle
compares it with the last one it applied, so a rule never has to de-duplicate.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, ClassVar, Iterable

from pydantic import BaseModel, ConfigDict, field_validator

from core.timeutil import parse_duration

from .._levels import LEVELS

STATUSES = ("clear", "pending", "firing", "insufficient")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Signal:
    """A rule's assessment of one subject at one observation time."""

    status: str                      # clear | pending | firing | insufficient
    observed_at: datetime
    level: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    cities: tuple[str, ...] = ()     # affected cities when the subject alone does not say


def duration(v: Any) -> timedelta:
    if isinstance(v, timedelta):
        return v
    if isinstance(v, (int, float)):
        return timedelta(seconds=v)
    return parse_duration(str(v))


class RuleConfig(BaseModel):
    """Fields every rule has; rule types extend it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    type: str
    kind: str
    title_zh: str = ""
    title_en: str = ""
    exercise: bool = False
    escalation: dict[str, dict[str, Any]] = {}

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if "." not in v:
            raise ValueError(f"kind {v!r} must be dotted, e.g. air.realtime")
        return v


class Rule:
    """Base of rule types: ``config_model`` validates the rule's table of the rules file."""

    config_model: ClassVar[type[RuleConfig]] = RuleConfig
    streaming: ClassVar[bool] = True

    def __init__(self, config: RuleConfig, catalogue) -> None:
        self.config, self.cat = config, catalogue

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def kind(self) -> str:
        return self.config.kind

    @property
    def levels(self) -> tuple[str, ...]:
        return LEVELS


class StreamingRule(Rule):
    """Sees readings as they arrive; keeps its per-subject state as a JSON-able dict."""

    def subjects(self, reading) -> Iterable[str]:
        raise NotImplementedError

    def step(self, subject: str, state: dict, reading) -> Signal | None:
        """Fold one reading into ``state`` (mutated); None when the reading is stale/irrelevant."""
        raise NotImplementedError

    def on_tick(self, subject: str, state: dict, now: datetime) -> Signal | None:
        """Re-assess without a reading (e.g. data stopped coming); None when nothing to say."""
        return None


@dataclass
class RuleContext:
    """What a periodic rule may read besides the store: forecasts (``forecasts(store, city,
    now)``, memoised per run; None when the provider fails), the open alerts (rows of
    ``AlertService.alerts(open_only=True)``) and the other rules of the rule set."""

    store: Any
    now: datetime
    # the open alerts, or a function giving them: read only by the rules that need them
    # (reading every open alert with its evidence for each liveness pass was most of its cost)
    open_alerts_source: list[dict] | Callable[[], list[dict]] = field(default_factory=list)
    forecasts: Callable[[Any, str, datetime], Any] | None = None
    rules: dict[str, Rule] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def open_alerts(self) -> list[dict]:
        if callable(self.open_alerts_source):
            self.open_alerts_source = list(self.open_alerts_source())
        return self.open_alerts_source

    def forecast(self, city: str):
        if city not in self.cache:
            fc = None
            if self.forecasts is not None:
                try:
                    fc = self.forecasts(self.store, city, self.now)
                except Exception as exc:  # noqa: BLE001 - one city's forecast, not the run
                    log.warning("no forecast for city=%s: %s", city, exc)
            self.cache[city] = fc
        return self.cache[city]

    def open_alert(self, rule_id: str, subject: str) -> dict | None:
        """The issued (not pending) open alert of (rule, subject), if any."""
        return next((a for a in self.open_alerts if a["rule_id"] == rule_id and
                     a["subject"] == subject and a["state"] != "pending"), None)


class PeriodicRule(Rule):
    """Runs on a schedule over the store."""

    streaming = False
    every: timedelta = timedelta(minutes=5)

    def evaluate(self, store, now: datetime) -> list[tuple[str, Signal]]:
        raise NotImplementedError

    def evaluate_context(self, ctx: RuleContext) -> list[tuple[str, Signal]]:
        """Rules that need forecasts or the open alerts override this."""
        return self.evaluate(ctx.store, ctx.now)
