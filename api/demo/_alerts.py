"""The demo's alert service: the packaged air and river rules and recipients on the simulated
clock, edge status board for liveness, the audited target table, and ``--notify-webhook``
as a catch-all exercise recipient."""
from __future__ import annotations

import logging
import tomllib
from datetime import timedelta
from importlib import resources
from typing import Callable

from alerts._config import DEFAULT_ESCALATION
from alerts.rules._base import duration
from core.catalogue import Catalogue
from core.store import Store

log = logging.getLogger(__name__)


LIVENESS = ("station_silent", "site_offline", "pipeline_down")
FORECAST_GRADING = ("air_regional", "air_warning")
# Accelerated time: a rule every 5 simulated minutes would run 12 times a real second at
# 3600x. Each pass reads the store (a second or more for the air rules), so the rules would
# take the interpreter from the devices, edge agents and ingest they watch. No periodic rule
# runs more often than this (real seconds); the air-warning rules also run after each issue.
RULE_FLOOR_REAL_S = 10.0


def rule_floor_s(speed: float) -> float:
    """The real-seconds floor, lowered at high speeds so that every rule still runs four
    times a simulated day (a daily rule such as eco-flow must see each day on its own)."""
    return max(0.5, min(RULE_FLOOR_REAL_S, 86400.0 / (4.0 * max(speed, 1e-9))))


def demo_rules(speed: float = 1.0, status_interval_real_s: float = 1.0, *,
               forecast_driven: bool = False) -> dict:
    """default_rules.toml (air) and river_rules.toml (river, liveness, quality) together.

    At ``speed`` simulated seconds per real second a real-time hiccup of a second is an hour
    of simulated silence, so the liveness grace periods are widened to ten real seconds.
    ``forecast_driven``: the forecast-grading rules (air warning, regional) are run after each
    forecast issue (``DerivedJobs.grade_forecasts``); their own schedule is then only a
    daily safety net.
    """
    data = resources.files("alerts").joinpath("data")
    out: dict = {"rule": []}
    for name in ("default_rules.toml", "river_rules.toml"):
        doc = tomllib.loads(data.joinpath(name).read_text(encoding="utf-8"))
        out["rule"] += doc.pop("rule", [])
        for key, value in doc.items():
            if isinstance(value, dict):
                out.setdefault(key, {}).update(value)
            else:
                out.setdefault(key, value)
    grace = int(max(1800, 10 * speed))
    agent = int(max(600, 10 * speed * status_interval_real_s))
    # reminders of unacknowledged alerts: at most one a real minute (a red alert's 15
    # simulated minutes are a quarter of a real second at 3600x: a reminder every tick)
    floor = timedelta(seconds=60 * speed)
    escalation = out.setdefault("escalation", {})
    for level, default in DEFAULT_ESCALATION.items():
        policy = escalation.setdefault(level, dict(default))
        every = policy.get("renotify_every")
        if every and duration(every) < floor:
            policy["renotify_every"] = f"{int(floor.total_seconds())}s"
    for rule in out["rule"]:
        if forecast_driven and rule.get("type") in FORECAST_GRADING:
            rule.setdefault("every", "24h")
        if rule.get("type") in LIVENESS:
            rule.setdefault("min_silence", f"{grace}s")
            rule.setdefault("agent_silent_after", f"{agent}s")
    return out


class DemoAlerts:
    def __init__(self, cat: Catalogue, store: Store, state_url: str, mqtt_url: str,
                 now: Callable[[], float], webhook: str | None, *, targets, speed: float,
                 share_group: str = "", forecast_driven: bool = False):
        """``share_group=""``: the embedded amqtt broker has no shared subscriptions."""
        from alerts import AlertService, AlertSettings, FuncClock
        from alerts.rules.liveness import EdgeStatusBoard, bind_rules
        clock = FuncClock(now)
        settings = AlertSettings(
            state_url=state_url, mqtt_url=mqtt_url, share_group=share_group,
            tick_interval_s=1.0, poll_interval_s=0.2, backoff_base_s=1.0, backoff_max_s=10.0,
            schedule_speed=speed, schedule_min_interval_s=rule_floor_s(speed),
            # above 3600x one worker cannot pass every rule four times a simulated day
            rule_workers=1 if speed <= 3600 else 4,
            environment="development",
            # observations more than a real minute old are history, not news (a periodic
            # rule's run over every city can itself take seconds of real time)
            retrospective_after=f"{int(max(1800, 60 * speed))}s")
        self.svc = AlertService(settings, clock=clock, extra_webhook=webhook, store=store,
                                rules=demo_rules(speed, forecast_driven=forecast_driven))
        self.board = EdgeStatusBoard(clock).start(mqtt_url)
        bind_rules(self.svc, targets=targets, edge_status=self.board)
        self.svc.start()

    def stop(self) -> None:
        self.svc.stop()
        self.board.stop()
