"""The demo's alert service: the packaged rules and recipients on the simulated clock, with
``--notify-webhook`` as a catch-all exercise recipient."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from core.catalogue import Catalogue
from core.store import Store

log = logging.getLogger(__name__)


def start_alerts(cat: Catalogue, store: Store, data_dir: Path, mqtt_port: int,
                 now: Callable[[], float], webhook: str | None, *, speed: float = 3600.0):
    from alerts import AlertService, AlertSettings, FuncClock
    settings = AlertSettings(
        state_url=f"sqlite:///{data_dir / 'fenwei-alerts.db'}",
        mqtt_url=f"mqtt://127.0.0.1:{mqtt_port}", share_group="",  # amqtt: no $share
        tick_interval_s=1.0, poll_interval_s=0.2, backoff_base_s=1.0, backoff_max_s=10.0,
        schedule_speed=speed, environment="development")
    svc = AlertService(settings, clock=FuncClock(now), extra_webhook=webhook, store=store)
    svc.start()
    return svc
