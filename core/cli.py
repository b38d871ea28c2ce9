"""The ``fenwei`` command.

Each service contributes its sub-command through the ``fenwei.commands`` entry-point group
and its benchmark through ``fenwei.benches`` (see pyproject.toml), so ``core`` imports no
service. A service whose module cannot be imported still shows up, and says why when used.
"""
from __future__ import annotations

import json
import logging
import sys
from importlib.metadata import entry_points

import typer

app = typer.Typer(help="Fenwei: monitoring and warning backbone for the Guanzhong and "
                       "Fen-Wei Plains.", no_args_is_help=True, add_completion=False)


def _broken(name: str, exc: Exception) -> typer.Typer:
    sub = typer.Typer(help=f"(unavailable: {exc})")

    @sub.callback(invoke_without_command=True)
    def _fail() -> None:
        typer.echo(f"fenwei {name}: cannot load this command: {exc}", err=True)
        raise typer.Exit(2)
    return sub


def _register() -> None:
    for ep in sorted(entry_points(group="fenwei.commands"), key=lambda e: e.name):
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
    _register()
    app()


if __name__ == "__main__":
    main()
