"""``fenwei inspect``: completeness reports, screening and reviews from the command line."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Optional

import typer

from core.catalogue import load_catalogue
from core.settings import SettingsError, load_settings
from core.store import StoreError, open_store
from core.timeutil import CST

from ._completeness import completeness
from ._export import SelectionError, check_params, resolve_stations
from ._reviews import VERDICTS, ReviewError, ReviewStore, attach
from ._rules import ScreenConfig
from ._screen import screen

app = typer.Typer(help="Inspectors' workbench: completeness, screening, reviews.",
                  no_args_is_help=True)
ConfigOpt = typer.Option(None, "--config", help="TOML settings file")


def _fail(msg: str) -> None:
    typer.echo(f"fenwei inspect: {msg}", err=True)
    raise typer.Exit(2)


def _time(text: str | None, default: datetime, name: str) -> datetime:
    if text is None:
        return default
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        _fail(f"--{name} is not an ISO 8601 date or date-time")
    return ts if ts.tzinfo else ts.replace(tzinfo=CST)


def _setup(config, station, city, start, end, kind="air"):
    try:
        settings = load_settings(config)
    except SettingsError as exc:
        _fail(str(exc))
    cat = load_catalogue()
    t1 = _time(end, datetime.now(timezone.utc), "end")
    t0 = _time(start, t1 - timedelta(days=7), "start")
    if t1 <= t0:
        _fail("--end must be after --start")
    try:
        ids = resolve_stations(cat, kind, station or [], city or [])
    except SelectionError as exc:
        _fail(str(exc))
    if not ids:
        _fail("give --station or --city")
    return settings, cat, ids, t0, t1


@app.command("screen")
def screen_cmd(station: Optional[list[str]] = typer.Option(None, "--station"),
               city: Optional[list[str]] = typer.Option(None, "--city"),
               start: Optional[str] = typer.Option(None, help="ISO time (CST without offset)"),
               end: Optional[str] = typer.Option(None, help="ISO time (default now)"),
               params: str = typer.Option("pm25,pm10", help="comma-separated"),
               as_json: bool = typer.Option(False, "--json"),
               config: Optional[str] = ConfigOpt) -> None:
    """Screen stations for faults and tampering (findings with reasons and evidence)."""
    settings, cat, ids, t0, t1 = _setup(config, station, city, start, end)
    try:
        names = check_params(cat, "air", [p for p in params.split(",") if p])
        store = open_store(settings.store_url, cat, max_rows=settings.store_max_rows)
    except (SelectionError, StoreError) as exc:
        _fail(str(exc))
    try:
        result = screen(store, cat, ids, t0, t1, ScreenConfig(params=tuple(names)))
    finally:
        store.close()
    result = attach(result, ReviewStore(settings.state_url))
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    for n in result["notes"]:
        typer.echo(f"note {n['station']}: {n['note']}")
    for f in result["findings"]:
        done = f" [{f['review']['verdict']}]" if f.get("review") else ""
        typer.echo(f"{f['id']}  score {f['score']}{done}\n  {f['reason']['en']}\n"
                   f"  {f['reason']['zh']}")
    typer.echo(f"{len(result['findings'])} findings for {len(ids)} stations")


@app.command("completeness")
def completeness_cmd(station: Optional[list[str]] = typer.Option(None, "--station"),
                     city: Optional[list[str]] = typer.Option(None, "--city"),
                     start: Optional[str] = typer.Option(None), end: Optional[str] = None,
                     kind: str = typer.Option("air", help="air or hydro"),
                     params: str = typer.Option("", help="comma-separated (default all)"),
                     as_json: bool = typer.Option(False, "--json"),
                     config: Optional[str] = ConfigOpt) -> None:
    """Share of valid hours, days and months, and the gaps with their causes."""
    settings, cat, ids, t0, t1 = _setup(config, station, city, start, end, kind)
    try:
        names = check_params(cat, kind, [p for p in params.split(",") if p])
        store = open_store(settings.store_url, cat, max_rows=settings.store_max_rows)
    except (SelectionError, StoreError) as exc:
        _fail(str(exc))
    try:
        rep = completeness(store, cat, ids, names, t0, t1)
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(rep, ensure_ascii=False))
        return
    typer.echo(f"{rep['start']} .. {rep['end']}")
    for r in rep["stations"]:
        typer.echo(f"{r['station']:>14} {r['param']:>10}  hours {_pct(r['hours'])}  "
                   f"days {_pct(r['days'])}  months {_pct(r['months'])}  gaps {len(r['gaps'])}")
    for c in rep["cities"]:
        typer.echo(f"{c['city']:>14} {c['month']} {c['param']:>10}  hours {_pct(c['hours'])}"
                   f"  days {_pct(c['days'])}  stations with a valid month "
                   f"{c['stations_month_valid']}/{c['stations']}")


def _pct(s: dict) -> str:
    return "  n/a " if s["share"] is None else f"{s['share']:6.1%} ({s['valid']}/{s['expected']})"


@app.command("review")
def review_cmd(finding: str = typer.Argument(..., help="finding id, e.g. 1462A:pm25:departure:"
                                                       "20270101T03Z"),
               note: str = typer.Option(..., "--note"),
               by: str = typer.Option(..., "--by", help="who reviews"),
               verdict: str = typer.Option("reviewed", help=", ".join(VERDICTS)),
               config: Optional[str] = ConfigOpt) -> None:
    """Mark a finding reviewed with a note (kept with who and when)."""
    try:
        settings = load_settings(config)
        row = ReviewStore(settings.state_url).review(finding, note, by, verdict)
    except (SettingsError, ReviewError) as exc:
        _fail(str(exc))
    typer.echo(json.dumps(row, ensure_ascii=False))


@app.command("score")
def score_cmd(folder: str = typer.Argument(..., help="hourly.csv, faults.csv and meta.json "
                                                     "(`fenwei sim hourly --out FOLDER`)"),
              params: str = typer.Option("pm25,pm10,so2,no2,o3,co", help="comma-separated"),
              min_hours: float = typer.Option(6.0, help="windows scored on recall"),
              as_json: bool = typer.Option(False, "--json")) -> None:
    """Score screening on data with known interference: recall over injected windows of at
    least --min-hours, false alarms over clean station-weeks, precision."""
    from pathlib import Path

    import pandas as pd

    from ._score import score
    base = Path(folder)
    try:
        meta = json.loads((base / "meta.json").read_text(encoding="utf-8"))
        frame = pd.read_csv(base / "hourly.csv")
        truth = pd.read_csv(base / "faults.csv", keep_default_na=False)
    except (OSError, ValueError) as exc:
        _fail(f"cannot read {folder}: {exc}")
    cat = load_catalogue()
    try:
        names = check_params(cat, "air", [p for p in params.split(",") if p])
    except SelectionError as exc:
        _fail(str(exc))
    result = score(frame, truth, cat, datetime.fromisoformat(meta["start"]),
                   datetime.fromisoformat(meta["end"]), ScreenConfig(params=tuple(names)),
                   min_hours=min_hours)
    result = {"scenario": meta.get("scenario"), "seed": meta.get("seed"), **result}
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    typer.echo(f"{result['scenario']} seed {result['seed']}: recall {result['found']}/"
               f"{result['windows']}, false alarms {result['flagged_clean_station_weeks']}/"
               f"{result['clean_station_weeks']} clean station-weeks, precision "
               f"{result['true_findings']}/{result['findings']} findings")
    for m in result["missed"]:
        typer.echo(f"missed {m['station']} {m['kind']} {m['params']} {m['start']} {m['hours']:g} h")
