"""``fenwei import prsa|cnemc|long FILES...``: bulk-load history into the store.

Prints a progress bar (on a terminal), then the summary, and with ``--json`` ends with it as
one JSON line. Exit 0 when every value read was stored, unchanged or counted as rejected or
skipped (always, unless the import failed), 2 on bad input (unknown format, unreadable file,
station map or settings), 1 when the store failed mid-way (re-run to resume).
"""
from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Optional

import typer

from core.catalogue import CatalogueError, load_catalogue
from core.settings import SettingsError, load_settings, mask_url
from core.store import StoreError, open_store

from ._formats import FormatError, name_lookup
from ._load import run_import
from ._model import Summary

log = logging.getLogger(__name__)
app = typer.Typer(help="Import historical hourly data (prsa, cnemc, long) into the store: "
                       "idempotent, resumable (see docs/catalogue.md).",
                  no_args_is_help=True, add_completion=False)

StoreOpt = typer.Option(None, "--store-url", help="[FENWEI_STORE_URL]")
StateOpt = typer.Option(None, "--state", help="Resume state file (default: "
                        "<FENWEI_DATA_DIR>/fenwei-import-state.json).")
RestartOpt = typer.Option(False, "--restart", help="Ignore the resume state: read every file "
                          "again (values already stored are still not written twice).")
MapOpt = typer.Option(None, "--station-map", help="CSV (name,station) or JSON {name: "
                      "station} mapping the file's station names to catalogue ids.")
ProgressOpt = typer.Option(None, "--progress/--no-progress",
                           help="Progress bar (default: on a terminal).")
JsonOpt = typer.Option(False, "--json", help="End with the summary as one JSON line.")
Files = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                       help="Files (.csv or .csv.gz).")


def read_station_map(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        doc = json.loads(text)
        if not isinstance(doc, dict):
            raise ValueError(f"{path}: expected an object {{name: station}}")
        return {str(k): str(v) for k, v in doc.items()}
    rows = [r for r in csv.reader(text.splitlines()) if r and not r[0].startswith("#")]
    if rows and [c.strip().lower() for c in rows[0][:2]] == ["name", "station"]:
        rows = rows[1:]
    if any(len(r) < 2 for r in rows):
        raise ValueError(f"{path}: each line must be name,station")
    return {r[0].strip(): r[1].strip() for r in rows}


def _run(fmt: str, files: list[Path], store_url, state, restart, station_map, progress,
         as_json) -> None:
    try:
        settings = load_settings()
        url = store_url or settings.store_url
        cat = load_catalogue()
        mapping = read_station_map(station_map)
        unknown = sorted(set(mapping.values()) - set(cat.stations))
        if unknown:
            raise ValueError(f"--station-map names stations not in the catalogue: {unknown}")
        store = open_store(url, cat)
    except (SettingsError, CatalogueError, StoreError, ValueError, OSError) as exc:
        typer.echo(f"fenwei import: {exc}", err=True)
        raise typer.Exit(2) from None
    state_path = state or Path(settings.data_dir) / "fenwei-import-state.json"
    summary = Summary()
    code = 0
    try:
        run_import(store, cat, fmt, files, name_lookup(cat, mapping), state_path=state_path,
                   store_id=mask_url(url), restart=restart, progress=progress,
                   summary=summary)
    except (FormatError, UnicodeDecodeError, ValueError) as exc:
        typer.echo(f"fenwei import: {exc}", err=True)
        code = 2
    except StoreError as exc:
        typer.echo(f"fenwei import: the store failed: {exc} (re-run to resume)", err=True)
        code = 1
    finally:
        store.close()
    report(summary, as_json)
    raise typer.Exit(code)


def report(summary: Summary, as_json: bool) -> None:
    d = summary.as_dict()
    for key in ("files", "files_skipped", "rows_read", "values_read", "missing",
                "readings_stored", "values_stored", "values_replaced", "values_unchanged",
                "values_rejected"):
        typer.echo(f"{key:>18}: {d[key]}")
    for reason, n in d["rejected"].items():
        typer.echo(f"{'rejected ' + reason:>18}: {n}")
    for reason, n in d["skipped"].items():
        typer.echo(f"{'skipped ' + reason:>18}: {n}")
    if as_json:
        typer.echo(json.dumps(d, ensure_ascii=False))


def _command(fmt: str, doc: str):
    def command(files: list[Path] = Files, store_url: Optional[str] = StoreOpt,
                state: Optional[Path] = StateOpt, restart: bool = RestartOpt,
                station_map: Optional[Path] = MapOpt, progress: Optional[bool] = ProgressOpt,
                as_json: bool = JsonOpt) -> None:
        _run(fmt, files, store_url, state, restart, station_map, progress, as_json)
    command.__doc__ = doc
    app.command(fmt)(command)


_command("prsa", "Beijing multi-site research files (PRSA_Data_<Station>_*.csv[.gz]): local "
                 "time (CST), CO ug/m3 -> mg/m3, PRES hPa -> kPa, RH from DEWP (Magnus), wd "
                 "16-point compass -> degrees; station = English name (catalogue name_en or "
                 "--station-map).")
_command("cnemc", "CNEMC daily site files (china_sites_YYYYMMDD.csv: date, hour, type, one "
                  "column per station code) and city files (china_cities_YYYYMMDD.csv, one "
                  "column per city name in Chinese, stored as measurement city_obs); hourly "
                  "types stored, _24h/_8h/AQI counted as skipped.")
_command("long", "Generic CSV: station, time, parameter, value[, flag] in catalogue units; "
                 "time = the hour's label (its end), ISO 8601, CST when it has no offset.")
