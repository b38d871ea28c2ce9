"""``fenwei demo``: the whole chain on embedded defaults, no server installed.

Embedded MQTT broker (amqtt) → generator or simulator → ingest → DuckDB → HTTP API.
Prints ``MQTT: mqtt://...`` and ``API: http://...`` as soon as each listens, then a live
summary. Options are a documented contract (docs/services/demo.md).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._runner import DemoOptions, run_demo

DEFAULT_API_PORT = 8000
DEFAULT_MQTT_PORT = 11883


def demo(
    api_port: int = typer.Option(DEFAULT_API_PORT, help="HTTP API port (0 picks a free one)."),
    mqtt_port: int = typer.Option(DEFAULT_MQTT_PORT, help="MQTT port (0 picks a free one)."),
    data_dir: Optional[Path] = typer.Option(None, help="Keep files here (default: a fresh "
                                                       "temporary folder, removed at exit)."),
    scenario: Optional[str] = typer.Option(None, help="Simulator scenario (e.g. winter-episode)."
                                                      " Default: the simple generator."),
    speed: float = typer.Option(3600.0, help="Simulated seconds per real second."),
    duration: Optional[str] = typer.Option(None, help="Simulated period to deliver, e.g. 7d; "
                                                      "the demo stops once it is stored."),
    seed: int = typer.Option(0, help="Seed for the generator/simulator."),
    stations: Optional[int] = typer.Option(None, min=1, help="Cap the number of stations "
                                           "(default: all for the generator; 42 for a "
                                           "scenario, two air stations per city and every "
                                           "river gauge, which keeps up at 3600x; 84 for all)."),
    notify_webhook: Optional[str] = typer.Option(None, help="Exercise recipient receiving "
                                                            "every notification."),
    forecast_model: bool = typer.Option(True, help="Train a forecast model at start (takes a "
                                                   "minute or more). Without it the warning "
                                                   "rules grade persistence forecasts."),
) -> None:
    """Run the walking-skeleton demo."""
    opts = DemoOptions(api_port=api_port, mqtt_port=mqtt_port, data_dir=data_dir,
                       scenario=scenario, speed=speed, duration=duration, seed=seed,
                       stations=stations, notify_webhook=notify_webhook,
                       forecast_model=forecast_model)
    code = run_demo(opts)
    # Every part has been stopped and drained by now; worker threads that a library keeps
    # (non-daemon pools) must not hold the process open after Ctrl-C.
    import os
    import sys
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


__all__ = ["DEFAULT_API_PORT", "DEFAULT_MQTT_PORT", "DemoOptions", "demo", "run_demo"]
