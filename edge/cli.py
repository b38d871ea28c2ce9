"""``fenwei edge``: run the edge agent, show the device table.

``fenwei edge run`` is built in stack/cli.py (the composition root).
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import typer

app = typer.Typer(help="Edge agent: station hardware (HJ 212, SL 651) to MQTT, nothing lost.",
                  no_args_is_help=True, add_completion=False)


@app.command("devices")
def devices(config: Path = typer.Option(None, "--config", "-c",
                                        help="The devices of this agent config (listed ones "
                                        "and, with catalogue_devices, the catalogue's with "
                                        "their passwords).")) -> None:
    """Print the device table as TOML [[edge.devices]] entries (without --config: the
    catalogue's with the simulator's demo passwords)."""
    from core.catalogue import load_catalogue
    from edge.agent import default_devices, device_table, load_config

    cat = load_catalogue()
    if config:
        table = device_table(load_config(config), cat)
        devs = [d.config for t in table.values() for d in t.values()]
    else:
        devs = default_devices(cat)
    for d in devs:
        key = f'mn = "{d.mn}"' if d.protocol == "hj212" else f'address = "{d.address}"'
        pw = "" if d.password is None else f'password = "{d.password}"\n'
        typer.echo(f'[[edge.devices]]\nprotocol = "{d.protocol}"\nstation = "{d.station}"\n'
                   f'{key}\n{pw}')


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    main()
