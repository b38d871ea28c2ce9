"""``fenwei api``: serve the HTTP API, manage API keys."""
from __future__ import annotations

import json
from typing import Optional

import typer

from core.catalogue import load_catalogue
from core.settings import SettingsError, load_settings, mask_url
from core.store import StoreError

from .auth import ROLES, KeyError_, KeyStore

app = typer.Typer(help="HTTP API for inspectors and bureaus.", no_args_is_help=True)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
ConfigOpt = typer.Option(None, "--config", help="TOML settings file")


def _settings(config):
    try:
        return load_settings(config)
    except SettingsError as exc:
        typer.echo(f"fenwei api: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command("run")
def run(host: str = "127.0.0.1", port: int = 8000, config: Optional[str] = ConfigOpt) -> None:
    """Serve the API: readings from FENWEI_STORE_URL; keys, alert state and eco-flow targets
    in FENWEI_STATE_URL (the alert service's, migrated if needed); dead letters from the
    ingest state file (FENWEI_INGEST_STATE_PATH)."""
    import uvicorn
    from sqlalchemy.exc import SQLAlchemyError

    from alerts.errors import ConfigError

    from ._build import build_app
    settings = _settings(config)
    try:
        app_ = build_app(settings)
    except (StoreError, ConfigError, SettingsError) as exc:
        typer.echo(f"fenwei api: {exc}", err=True)
        raise typer.Exit(2) from None
    except SQLAlchemyError as exc:
        typer.echo(f"fenwei api: state database {mask_url(settings.state_url)}: "
                   f"{type(exc).__name__}: {str(exc).splitlines()[0]}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"API: http://{host}:{port}")
    uvicorn.run(app_, host=host, port=port, log_level="warning")


@keys_app.command("create")
def create(role: str = typer.Option(..., help=f"One of: {', '.join(ROLES)}"),
           name: str = typer.Option(..., help="Who holds the key"),
           city: Optional[str] = typer.Option(None, help="City slug (city-team)"),
           province: Optional[str] = typer.Option(None, help="Province (bureau)"),
           station: Optional[str] = typer.Option(None, help="Station id (station)"),
           config: Optional[str] = ConfigOpt) -> None:
    """Create a key; it is printed once and stored only as a hash."""
    cat = load_catalogue()
    scope = city or province or station
    if city and city not in cat.cities:
        typer.echo(f"unknown city {city!r}", err=True)
        raise typer.Exit(2)
    if province and province not in {c.province for c in cat.cities.values()}:
        typer.echo(f"unknown province {province!r}", err=True)
        raise typer.Exit(2)
    if station and station not in cat.stations:
        typer.echo(f"unknown station {station!r}", err=True)
        raise typer.Exit(2)
    try:
        kid, key = KeyStore(_settings(config).state_url).create(name, role, scope)
    except KeyError_ as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps({"id": kid, "role": role, "scope": scope, "key": key}))


@keys_app.command("list")
def list_keys(config: Optional[str] = ConfigOpt) -> None:
    """List keys (never the keys themselves: their first characters only)."""
    for k in KeyStore(_settings(config).state_url).list():
        typer.echo(json.dumps(k, default=lambda v: v.isoformat(), ensure_ascii=False))


@keys_app.command("revoke")
def revoke(key_id: int, config: Optional[str] = ConfigOpt) -> None:
    """Revoke a key by id."""
    if not KeyStore(_settings(config).state_url).revoke(key_id):
        typer.echo(f"no active key with id {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked key {key_id}")
