"""``fenwei edge``: run the edge agent, show the device table.

Also runnable as ``python -m edge.cli run --config FILE``.
"""
from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

import typer

app = typer.Typer(help="Edge agent: station hardware (HJ 212, SL 651) to MQTT, nothing lost.",
                  no_args_is_help=True, add_completion=False)


@app.command("run")
def run(config: Path = typer.Option(..., "--config", "-c", exists=True, dir_okay=False,
                                    help="TOML file with an [edge] table (see "
                                         "edge/sample-config.toml)."),
        hj212_port: int = typer.Option(None, help="Override [edge.hj212] port."),
        sl651_port: int = typer.Option(None, help="Override [edge.sl651] port.")) -> None:
    """Run the agent until SIGTERM/SIGINT; publishes to FENWEI_MQTT_URL."""
    from core.settings import SettingsError, load_settings
    from edge.agent import ConfigError, EdgeAgent, EdgeError, load_config

    try:
        settings = load_settings(config)
        cfg = load_config(config)
    except (SettingsError, ConfigError) as exc:
        typer.echo(f"fenwei edge: {exc}", err=True)
        raise typer.Exit(2) from None
    updates = {}
    if hj212_port is not None:
        updates["hj212"] = cfg.hj212.model_copy(update={"port": hj212_port})
    if sl651_port is not None:
        updates["sl651"] = cfg.sl651.model_copy(update={"port": sl651_port})
    cfg = cfg.model_copy(update=updates)
    logging.getLogger().setLevel(settings.log_level)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    try:
        agent = EdgeAgent(cfg, settings=settings).start()
    except (ConfigError, EdgeError) as exc:
        typer.echo(f"fenwei edge: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"edge agent {cfg.agent_id}: listening on {agent.ports}", err=True)
    done.wait()
    agent.stop()


@app.command("devices")
def devices(config: Path = typer.Option(None, "--config", "-c",
                                        help="Also list the devices of this config.")) -> None:
    """Print the device table (catalogue defaults) as TOML [[edge.devices]] entries."""
    from core.catalogue import load_catalogue
    from edge.agent import default_devices, load_config

    devs = list(load_config(config).devices) if config else default_devices(load_catalogue())
    for d in devs:
        key = f'mn = "{d.mn}"' if d.protocol == "hj212" else f'address = "{d.address}"'
        typer.echo(f'[[edge.devices]]\nprotocol = "{d.protocol}"\nstation = "{d.station}"\n'
                   f'{key}\npassword = "{d.password}"\n')


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    main()
