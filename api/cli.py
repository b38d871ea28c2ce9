"""``fenwei api run``: serve the HTTP API over the configured store."""
from __future__ import annotations

import typer

from core.catalogue import load_catalogue
from core.settings import SettingsError, load_settings
from core.store import StoreError, open_store

app = typer.Typer(help="HTTP API for inspectors and bureaus.", no_args_is_help=True)


@app.command("run")
def run(host: str = "127.0.0.1", port: int = 8000,
        config: str = typer.Option(None, help="TOML settings file")) -> None:
    """Serve the API (store from FENWEI_STORE_URL)."""
    import uvicorn

    from .app import create_app
    try:
        settings = load_settings(config)
        cat = load_catalogue()
        store = open_store(settings.store_url, cat, max_rows=settings.store_max_rows)
    except (SettingsError, StoreError) as exc:
        typer.echo(f"fenwei api: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"API: http://{host}:{port}")
    uvicorn.run(create_app(store, cat), host=host, port=port, log_level="warning")
