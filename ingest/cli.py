"""``fenwei ingest run``: the ingest service as a process (SIGTERM drains, then exits)."""
from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Optional

import typer

from core.settings import SettingsError

app = typer.Typer(help="Ingest: MQTT readings into the time-series store.",
                  no_args_is_help=True, add_completion=False)


@app.command("run")
def run(
    config: Optional[Path] = typer.Option(None, help="TOML settings file ($FENWEI_CONFIG)."),
    mqtt_url: Optional[str] = typer.Option(None, help="Broker URL [FENWEI_MQTT_URL]."),
    store_url: Optional[str] = typer.Option(None, help="Store URL [FENWEI_STORE_URL]."),
    state_path: Optional[Path] = typer.Option(None, help="SQLite file for dead letters and "
                                              "completeness [DATA_DIR/ingest-state.sqlite]."),
    client_id: Optional[str] = typer.Option(None, help="Fixed MQTT client id [fenwei-ingest]."),
    share_group: Optional[str] = typer.Option(None, help="Join $share/GROUP/... to split "
                                              "the load between processes."),
    mqtt_protocol: Optional[str] = typer.Option(None, help="3.1.1 (default) or 5 (receive "
                                                "maximum, session expiry)."),
    receive_maximum: Optional[int] = typer.Option(None, help="Unacknowledged messages the "
                                                  "broker may send [10000]."),
    batch_points: Optional[int] = typer.Option(None, help="Readings per write [5000]."),
    batch_ms: Optional[int] = typer.Option(None, help="Longest wait before a write [200]."),
    max_buffer_points: Optional[int] = typer.Option(None, help="Readings buffered before "
                                                    "reading from the broker pauses [50000]."),
    flood_rate: Optional[float] = typer.Option(None, help="Messages/s per station, 0 = off."),
    flood_burst: Optional[float] = typer.Option(None, help="Token bucket depth per station."),
    retention: Optional[str] = typer.Option(None, help="Raw retention on InfluxDB: INF or "
                                            "e.g. 365d."),
    metrics_port: Optional[int] = typer.Option(None, help="Prometheus port, 0 = off."),
    drain_timeout_s: Optional[float] = typer.Option(None, help="On SIGTERM, wait this long "
                                                    "for a dead store [30]."),
    log_level: str = typer.Option("INFO", help="DEBUG, INFO, WARNING or ERROR."),
) -> None:
    """Subscribe, decode, write in batches, acknowledge after the write."""
    from ._config import IngestConfig
    from ._service import Ingestor
    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        cfg = IngestConfig.from_env(
            config, mqtt_url=mqtt_url, store_url=store_url, state_path=state_path,
            client_id=client_id, share_group=share_group, mqtt_protocol=mqtt_protocol,
            receive_maximum=receive_maximum, batch_points=batch_points, batch_ms=batch_ms,
            max_buffer_points=max_buffer_points, flood_rate=flood_rate,
            flood_burst=flood_burst, retention=retention, metrics_port=metrics_port,
            drain_timeout_s=drain_timeout_s)
    except SettingsError as exc:
        typer.echo(f"fenwei ingest: {exc}", err=True)
        raise typer.Exit(2) from None
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    ingestor = Ingestor(cfg).start()
    typer.echo(f"ingest running: {cfg.subscription} -> store (pid {__import__('os').getpid()})",
               err=True)
    try:
        while not stop.wait(10):
            logging.getLogger("ingest").info("%s", ingestor.stats_line())
    finally:
        ingestor.stop()


@app.command("dead-letters")
def dead_letters(
    state_path: Path = typer.Option(Path("ingest-state.sqlite"), help="Ingest state file."),
    reason: Optional[str] = typer.Option(None), limit: int = typer.Option(20),
) -> None:
    """List the newest dead letters."""
    from ._deadletter import list_dead_letters
    for d in list_dead_letters(state_path, reason=reason, limit=limit, with_payload=False):
        typer.echo(f"{d['id']:>8} {d['reason']:<22} {d['topic']}  {d['detail'][:80]}")


if __name__ == "__main__":
    app()
