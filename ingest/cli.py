"""``fenwei ingest``: dead letters and gaps (``fenwei ingest run`` is built in stack/cli.py).

``fenwei ingest gaps [--station S] [--state open|requested|filled|given_up] [--json]`` lists
the time gaps found in stations' series and their fill state (see ingest/_gaps.py).

``fenwei ingest dead-letters [list] [--reason R] [--since T]`` lists the newest dead letters;
``fenwei ingest dead-letters replay [--reason R] [--since T]`` decodes and writes them again
the way intake does and removes the rows that are stored. ``T`` is an ISO 8601 time with its
offset or an age (``2h``, ``7d``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


app = typer.Typer(help="Ingest: MQTT readings into the time-series store.",
                  no_args_is_help=True, add_completion=False)
dead_app = typer.Typer(help="Dead letters: list them, replay them into the store.",
                       add_completion=False)
app.add_typer(dead_app, name="dead-letters")

_STATE = typer.Option(None, help="Ingest state file [DATA_DIR/ingest-state.sqlite].")
_REASON = typer.Option(None, help="Only this reason (e.g. flood, field_type_conflict).")
_SINCE = typer.Option(None, help="Only rows received since: ISO 8601 with offset, or an "
                      "age like 2h, 7d.")
_CONFIG = typer.Option(None, help="TOML settings file ($FENWEI_CONFIG).")


def _config(config: Optional[Path], **overrides):
    from core.settings import SettingsError
    from ingest import IngestConfig
    try:
        return IngestConfig.from_env(config, **overrides)
    except SettingsError as exc:
        typer.echo(f"ingest: {exc}", err=True)
        raise typer.Exit(2)


def _since(since: Optional[str]) -> Optional[float]:
    from ._replay import parse_since
    try:
        return parse_since(since)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since")


def _list(state_path: Path, reason: Optional[str], since: Optional[str], limit: int) -> None:
    from core.deadletters import list_dead_letters
    for d in list_dead_letters(state_path, reason=reason, since=_since(since), limit=limit,
                               with_payload=False):
        typer.echo(f"{d['id']:>8} {d['reason']:<22} {d['topic']}  {d['detail'][:80]}")


@dead_app.callback(invoke_without_command=True)
def dead_letters(ctx: typer.Context, state_path: Optional[Path] = _STATE,
                 reason: Optional[str] = _REASON, since: Optional[str] = _SINCE,
                 limit: int = typer.Option(20), config: Optional[Path] = _CONFIG) -> None:
    """List the newest dead letters (``list``), or ``replay`` them."""
    if ctx.invoked_subcommand is None:
        _list(state_path or _config(config).state_path, reason, since, limit)


@dead_app.command("list")
def list_cmd(state_path: Optional[Path] = _STATE, reason: Optional[str] = _REASON,
             since: Optional[str] = _SINCE, limit: int = typer.Option(20),
             config: Optional[Path] = _CONFIG) -> None:
    """List the newest dead letters."""
    _list(state_path or _config(config).state_path, reason, since, limit)


@dead_app.command("replay")
def replay_cmd(state_path: Optional[Path] = _STATE, reason: Optional[str] = _REASON,
               since: Optional[str] = _SINCE, config: Optional[Path] = _CONFIG,
               store_url: Optional[str] = typer.Option(None, help="Store URL "
                                                       "[FENWEI_STORE_URL]."),
               deadline_s: float = typer.Option(300.0, help="Give up on an unreachable "
                                                "store after this many seconds.")) -> None:
    """Decode and write the dead letters again; remove the rows that are stored."""
    from core.catalogue import load_catalogue
    from core.deadletters import DeadLetters, connect
    from core.store import open_store
    from ._replay import replay
    from ._retry import Backoff, GaveUp
    cfg = _config(config, store_url=store_url, state_path=state_path)
    if not Path(cfg.state_path).exists():
        typer.echo(f"no ingest state file at {cfg.state_path}", err=True)
        raise typer.Exit(1)
    cat = load_catalogue()
    since_ts = _since(since)
    db = connect(cfg.state_path)
    store = open_store(cfg.store_url, cat)
    try:
        res = replay(DeadLetters(db, max_rows=cfg.dead_letter_max_rows, max_age_s=None),
                     store.write, cat, reason=reason, since=since_ts,
                     backoff=Backoff(cfg.retry_initial_s, cfg.retry_max_s),
                     deadline_s=deadline_s, max_bytes=cfg.max_payload_bytes)
    except GaveUp as exc:
        typer.echo(f"the store stayed unavailable: {exc}", err=True)
        raise typer.Exit(1)
    finally:
        store.close()
        db.close()
    typer.echo(f"replayed: {res.stored} rows stored ({res.readings} readings); "
               f"{res.kept} kept {res.reasons or ''}".rstrip())


@app.command("gaps")
def gaps_cmd(state_path: Optional[Path] = _STATE,
             station: Optional[str] = typer.Option(None, help="Only this station."),
             state: Optional[str] = typer.Option(None, help="Only this fill state: open, "
                                                 "requested, filled, given_up."),
             as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
             config: Optional[Path] = _CONFIG) -> None:
    """List the time gaps in stations' series and their fill state."""
    import json
    from core.deadletters import connect
    from ._gaps import STATES, list_gaps
    if state is not None and state not in STATES:
        raise typer.BadParameter(f"one of {', '.join(STATES)}", param_hint="--state")
    path = state_path or _config(config).state_path
    if not Path(path).exists():
        typer.echo(f"no ingest state file at {path}", err=True)
        raise typer.Exit(1)
    db = connect(path)
    try:
        rows = [g.as_dict() for g in list_gaps(db, station=station, state=state)]
    finally:
        db.close()
    for g in rows:
        if as_json:
            typer.echo(json.dumps(g, separators=(",", ":")))
        else:
            typer.echo(f"{g['station']:<14} {g['start']} .. {g['end']} {g['period']:<5} "
                       f"{g['state']:<9} missing {g['missing']}/{g['slots']} "
                       f"requests {g['attempts']}  {g['detail']}".rstrip())
    if not as_json:
        typer.echo(f"{len(rows)} gaps", err=True)


if __name__ == "__main__":
    app()
