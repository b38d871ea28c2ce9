"""The ``fenwei`` command.

Each service contributes its sub-command through the ``fenwei.commands`` entry-point group
and its benchmark through ``fenwei.benches`` (see pyproject.toml), so ``core`` imports no
service. A service whose module cannot be imported still shows up, and says why when used.

``--catalogue-extra DIR`` (anywhere on the line, repeatable) is global: it is taken off the
command line before the sub-command parses it and added to ``$FENWEI_CATALOGUE_EXTRA``, which
:func:`core.catalogue.load_catalogue` reads, so every command and every service process the
command starts sees the same catalogue (docs/catalogue.md).
"""
from __future__ import annotations

import json
import logging
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Optional

import typer

from .catalogue import EXTRA_ENV, CatalogueError, load_catalogue

EXTRA_OPTION = "--catalogue-extra"

app = typer.Typer(help="Fenwei: monitoring and warning backbone for the Guanzhong and "
                       "Fen-Wei Plains.", no_args_is_help=True, add_completion=False)


@app.callback()
def _root(catalogue_extra: Optional[list[Path]] = typer.Option(
        None, EXTRA_OPTION, metavar="DIR",
        help="Folder with cities.json/stations.json added to the packaged catalogue, for "
             "every command (also $FENWEI_CATALOGUE_EXTRA; accepted after the sub-command "
             "too; see docs/catalogue.md).")) -> None:
    """Fenwei: monitoring and warning backbone for the Guanzhong and Fen-Wei Plains."""
    if catalogue_extra:   # only reached when main() did not take it off the line (tests)
        use_catalogue_extra([str(p) for p in catalogue_extra])


def take_catalogue_extra(argv: list[str]) -> tuple[list[str], list[str]]:
    """``argv`` without its ``--catalogue-extra DIR`` / ``--catalogue-extra=DIR`` options
    (before any ``--``), and the folders they named."""
    rest, dirs, i = [], [], 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            rest += argv[i:]
            break
        if a == EXTRA_OPTION:
            if i + 1 >= len(argv):
                raise typer.BadParameter(f"{EXTRA_OPTION} needs a folder")
            dirs.append(argv[i + 1])
            i += 2
            continue
        if a.startswith(EXTRA_OPTION + "="):
            dirs.append(a.split("=", 1)[1])
        else:
            rest.append(a)
        i += 1
    return rest, dirs


def use_catalogue_extra(dirs: list[str]) -> None:
    """Add ``dirs`` to ``$FENWEI_CATALOGUE_EXTRA`` (absolute, so a service started in another
    working directory finds them) and check the catalogue loads with them."""
    have = [p for p in os.environ.get(EXTRA_ENV, "").split(os.pathsep) if p]
    new = [str(Path(d).expanduser().resolve()) for d in dirs]
    os.environ[EXTRA_ENV] = os.pathsep.join(dict.fromkeys(have + new))
    load_catalogue()   # a broken extra fails here, naming the file, not deep in a service


def _broken(name: str, exc: Exception) -> typer.Typer:
    sub = typer.Typer(help=f"(unavailable: {exc})")

    @sub.callback(invoke_without_command=True)
    def _fail() -> None:
        typer.echo(f"fenwei {name}: cannot load this command: {exc}", err=True)
        raise typer.Exit(2)
    return sub


def _register(only: str | None = None) -> None:
    """Add the sub-commands; ``only``: just that one when it is a known command (a service
    process then imports its own package, not every service's)."""
    eps = sorted(entry_points(group="fenwei.commands"), key=lambda e: e.name)
    if only is not None and any(ep.name == only for ep in eps):
        eps = [ep for ep in eps if ep.name == only]
    for ep in eps:
        try:
            obj = ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the CLI
            app.add_typer(_broken(ep.name, exc), name=ep.name)
            continue
        if isinstance(obj, typer.Typer):
            app.add_typer(obj, name=ep.name)
        else:
            app.command(ep.name)(obj)


def _benches() -> dict:
    return {ep.name: ep for ep in entry_points(group="fenwei.benches")}


@app.command("bench")
def bench(name: str = typer.Argument(..., help="Benchmark name (see `fenwei bench list`)."),
          as_json: bool = typer.Option(False, "--json", help="End with one JSON line."),
          seed: int = typer.Option(0, help="Seed for benchmarks that simulate data.")) -> None:
    """Run a benchmark and print its measured figures."""
    benches = _benches()
    if name == "list" or name not in benches:
        if name != "list":
            typer.echo(f"unknown benchmark {name!r}", err=True)
        typer.echo("benchmarks: " + ", ".join(sorted(benches)))
        raise typer.Exit(0 if name == "list" else 2)
    func = benches[name].load()
    kwargs = {"seed": seed} if "seed" in func.__code__.co_varnames else {}
    result = func(**kwargs)
    for key, value in result.items():
        typer.echo(f"{key:>28}: {value}")
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, default=str))


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        sys.argv[1:], dirs = take_catalogue_extra(sys.argv[1:])
        if dirs or os.environ.get(EXTRA_ENV):
            use_catalogue_extra(dirs)
    except (typer.BadParameter, CatalogueError) as exc:
        typer.echo(f"fenwei: {EXTRA_OPTION} / ${EXTRA_ENV}: {exc}", err=True)
        raise SystemExit(2) from None
    first = next((a for a in sys.argv[1:] if not a.startswith("-")), None)
    _register(None if first in (None, "bench") else first)
    app()


if __name__ == "__main__":
    main()
