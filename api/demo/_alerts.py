"""The demo's alert service: the packaged air and river rules and recipients on the simulated
clock, edge status board for liveness, the audited target table, and ``--notify-webhook``
as a catch-all exercise recipient."""
from __future__ import annotations

import logging
import tomllib
from importlib import resources
from typing import Callable

from core.catalogue import Catalogue
from core.store import Store

log = logging.getLogger(__name__)


LIVENESS = ("station_silent", "site_offline", "pipeline_down")


def demo_rules(speed: float = 1.0, status_interval_real_s: float = 1.0) -> dict:
    """default_rules.toml (air) and river_rules.toml (river, liveness, quality) together.

    At ``speed`` simulated seconds per real second a real-time hiccup of a second is an hour
    of simulated silence, so the liveness grace periods are widened to ten real seconds.
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
    for rule in out["rule"]:
        if rule.get("type") in LIVENESS:
            rule.setdefault("min_silence", f"{grace}s")
            rule.setdefault("agent_silent_after", f"{agent}s")
    return out


class DemoAlerts:
    def __init__(self, cat: Catalogue, store: Store, state_url: str, mqtt_url: str,
                 now: Callable[[], float], webhook: str | None, *, targets, speed: float,
                 share_group: str = ""):
        """``share_group=""``: the embedded amqtt broker has no shared subscriptions."""
        from alerts import AlertService, AlertSettings, FuncClock
        from alerts.rules.liveness import EdgeStatusBoard, bind_rules
        clock = FuncClock(now)
        settings = AlertSettings(
            state_url=state_url, mqtt_url=mqtt_url, share_group=share_group,
            tick_interval_s=1.0, poll_interval_s=0.2, backoff_base_s=1.0, backoff_max_s=10.0,
            schedule_speed=speed, environment="development",
            # observations more than a real minute old are history, not news (a periodic
            # rule's run over every city can itself take seconds of real time)
            retrospective_after=f"{int(max(1800, 60 * speed))}s")
        self.svc = AlertService(settings, rules=demo_rules(speed), clock=clock,
                                extra_webhook=webhook, store=store)
        self.board = EdgeStatusBoard(clock).start(mqtt_url)
        bind_rules(self.svc, targets=targets, edge_status=self.board)
        self.svc.start()

    def stop(self) -> None:
        self.svc.stop()
        self.board.stop()
