"""``fenwei aqi`` sub-commands (typer): ``calc`` grades one set of concentrations."""
from __future__ import annotations

import json
from typing import Annotated

import typer

from ._scalar import AqiResult, calculate
from .errors import AqiError

app = typer.Typer(help="Air Quality Index (HJ 633-2012 / HJ 633-2026).", no_args_is_help=True)


@app.callback()
def _main() -> None:
    """Air Quality Index (HJ 633-2012 / HJ 633-2026)."""


MISSING = "missing"


def _pairs(items: list[str]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected NAME=VALUE, got {item!r}")
        if value.strip().lower() == MISSING:  # no valid value (e.g. flagged invalid)
            out[key] = None
            continue
        try:
            out[key] = float(value)
        except ValueError as exc:
            raise typer.BadParameter(f"{key}: not a number: {value!r}") from exc
    return out


def _human(result: AqiResult) -> str:
    lines = [f"edition   HJ 633-{result.edition} ({result.period})"]
    lines += [f"IAQI {k:<6} {'-' if v is None else v}" for k, v in result.iaqi.items()]
    cat = result.category
    lines.append(f"AQI       {'-' if result.aqi is None else result.aqi}")
    if result.missing and result.aqi_lower_bound is not None:
        lines.append(f"AQI >=    {result.aqi_lower_bound} (missing: {','.join(result.missing)})")
    if cat:
        lines.append(f"category  {cat.roman} {cat.zh} {cat.en} (level {cat.level})")
        lines.append(f"colour    {cat.colour} {cat.colour_name}")
    lines.append(f"primary   {','.join(result.primary) or '-'}")
    lines.append(f"exceeding {','.join(result.exceeding) or '-'}")
    return "\n".join(lines)


@app.command()
def calc(
    values: Annotated[list[str], typer.Argument(help="pm25=V pm10=V so2=V no2=V co=V o3=V [o3_8h=V]")],
    at: Annotated[str, typer.Option("--at", help="ISO 8601 start of the averaging period; no offset = CST")],
    period: Annotated[str, typer.Option("--period", help="hourly or daily")] = "hourly",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Grade one set of concentrations (ug/m3, CO mg/m3).

    Daily: o3 is the daily max 8 h mean (alias o3_8h); o3_1h is used if it exceeds 800.
    Hourly: o3 is the 1 h value, o3_8h optional; so2_24h is used if SO2 1 h exceeds 800.
    NAME=missing: no valid value; the AQI is then blank and aqi_lower_bound the largest
    IAQI of the others.
    """
    if period not in ("hourly", "daily"):
        raise typer.BadParameter("hourly or daily", param_hint="--period")
    try:
        result = calculate(_pairs(values), at, period)  # type: ignore[arg-type]
    except AqiError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    for note in result.notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(json.dumps(result.to_json(), ensure_ascii=False) if as_json else _human(result))


@app.command("recompute")
def recompute_cmd(
    start: Annotated[str, typer.Option(help="ISO 8601; without offset: CST")],
    end: Annotated[str, typer.Option(help="ISO 8601; without offset: CST")],
    config: Annotated[str | None, typer.Option(help="TOML settings file")] = None,
) -> None:
    """Recompute and store hourly and daily AQI (stations and cities) for a past range."""
    from datetime import datetime

    from core.catalogue import load_catalogue
    from core.settings import SettingsError, load_settings
    from core.store import StoreError, open_store

    from ._derived import recompute
    from ._tables import CST as _CST

    def _t(v: str) -> datetime:
        try:
            ts = datetime.fromisoformat(v)
        except ValueError as exc:
            raise typer.BadParameter(f"not an ISO 8601 time: {v!r}") from exc
        return ts if ts.tzinfo else ts.replace(tzinfo=_CST)
    t0, t1 = _t(start), _t(end)
    if t1 <= t0:
        raise typer.BadParameter("--end must be after --start")
    try:
        settings = load_settings(config)
        cat = load_catalogue()
        written = recompute(open_store(settings.store_url, cat), cat, t0, t1)
    except (SettingsError, StoreError) as exc:
        typer.echo(f"fenwei aqi recompute: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(written))
