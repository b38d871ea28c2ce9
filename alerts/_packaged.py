"""The packaged rules (every family: air warnings, regional, real-time, river eco-flow,
liveness, data quality) as one rules document, fitted to the clock's speed.

``default_rules.toml`` (air) and ``river_rules.toml`` (river, liveness, quality) merged: the
``[[rule]]`` tables in order, other tables merged key by key. At a warped clock's speed
(drills, replays, tests: simulated seconds per real second) the real-time floors widen so that
a hiccup of a real second is not read as an hour of silence.
"""
from __future__ import annotations

import tomllib
from datetime import timedelta
from importlib import resources

from ._config import DEFAULT_ESCALATION
from .rules._base import duration

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


def packaged_rules(speed: float = 1.0, status_interval_real_s: float = 1.0, *,
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
