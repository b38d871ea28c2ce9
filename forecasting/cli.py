"""``fenwei forecast``: backtest, train, issue, verify, run (the schedule)."""
from __future__ import annotations

import json
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer

from core.settings import load_settings
from core.timeutil import CST

from ._registry import Registry
from ._settings import ForecastSettings

app = typer.Typer(help="Air-quality and river-flow forecasts.", no_args_is_help=True)

Store = Annotated[Optional[str], typer.Option("--store", help="Store URL (default "
                                              "FENWEI_STORE_URL).")]
Reg = Annotated[Optional[Path], typer.Option("--registry", help="Model registry directory "
                                             "(default FENWEI_FORECAST_REGISTRY_DIR).")]
Now = Annotated[Optional[str], typer.Option("--now", help="ISO time (naive = CST); "
                                            "default: the current time.")]


@app.callback()
def _main() -> None:
    """Air-quality and river-flow forecasts."""


def _time(text: str | None) -> datetime:
    if not text:
        return datetime.now(timezone.utc)
    t = datetime.fromisoformat(text)
    return t if t.tzinfo else t.replace(tzinfo=CST)


def _service(store_url, registry, met_feed=None, cities=None):
    from core.store import open_store
    from ._met import StoreMetFeed
    from ._service import ForecastService
    s = ForecastSettings()
    store = open_store(store_url or load_settings().store_url)
    return ForecastService(store, Registry(registry or s.registry_dir),
                           met_feed=met_feed or StoreMetFeed(store),
                           warn_p=s.warn_probability, cities=cities or None)


@app.command()
def backtest(
    start: Annotated[Optional[str], typer.Option(help="First origin (ISO, naive = CST).")] = None,
    end: Annotated[Optional[str], typer.Option(help="End of the scored period.")] = None,
    train_end: Annotated[Optional[str], typer.Option(
        help="Train a fresh model on history before this time (default: --start; "
             "--current uses the registry's model instead).")] = None,
    train_start: Annotated[Optional[str], typer.Option(
        help="First hour of the training history (default: --train-end minus "
             "FENWEI_FORECAST_HISTORY_DAYS).")] = None,
    current: Annotated[bool, typer.Option(
        "--current", help="Backtest the registry's current model (no training).")] = False,
    city: Annotated[Optional[list[str]], typer.Option(
        "--city", help="City slug (repeat for several; default every catalogue city).")] = None,
    met: Annotated[Optional[str], typer.Option(
        help="Weather input: 'observed' (the observed weather of the target days as a "
             "perfect-prognosis stand-in for a weather forecast: backtest only), 'none', "
             "or default: the stored weather forecasts.")] = None,
    out: Annotated[Path, typer.Option(help="CSV file for the table.")] = Path("backtest.csv"),
    plot: Annotated[Optional[Path], typer.Option(
        help="Directory for PNG plots of forecast vs observed daily AQI per lead day "
             "(needs matplotlib).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Last line: one JSON object with "
                                          "per-lead scores, POD/FAR, n_days, train_end.")] = False,
    no_met: Annotated[bool, typer.Option("--no-met", help="Ignore the weather feed "
                                         "(same as --met none).")] = False,
    simulate: Annotated[Optional[int], typer.Option(
        help="Simulate two winter seasons with this seed into an in-memory store first "
             "(then start/end/train-end default to the bench's).")] = None,
    store: Store = None, registry: Reg = None,
) -> None:
    """Rolling-origin backtest: a forecast issued at 00:00 CST every day of the period by a
    model trained only on data before --start, scored against the observed daily AQI (RMSE,
    category accuracy, POD/FAR of AQI > 200) beside persistence; prints the table, writes
    CSV, and with --json ends with one JSON object."""
    from ._backtest import format_table, report
    if met not in (None, "observed", "none"):
        raise typer.BadParameter("use observed or none", param_hint="--met")
    met = "none" if no_met else met
    if simulate is not None:
        from .bench import SCORE_START, TEST_START, simulated_service
        svc, _ = simulated_service(simulate, str(registry or tempfile.mkdtemp()))
        t0 = _time(start) if start else SCORE_START
        t1 = _time(end) if end else TEST_START + timedelta(days=137)
        tr = _time(train_end) if train_end else t0
    else:
        svc = _service(store, registry, cities=city)
        unknown = [c for c in city or () if c not in svc.cat.cities]
        if unknown:
            raise typer.BadParameter(f"unknown city {unknown[0]!r} (add it with the "
                                     "catalogue extension)", param_hint="--city")
        t1 = _time(end)
        t0 = _time(start) if start else t1 - timedelta(days=30)
        tr = None if current else (_time(train_end) if train_end else t0)
        if tr is not None and tr > t0:
            raise typer.BadParameter("the training must end before --start",
                                     param_hint="--train-end")
    ts = _time(train_start) if train_start else None
    s = ForecastSettings()
    result, model = svc.backtest(t0, t1, train_end=tr, train_start=ts, met=met,
                                 use_met=met != "none", history_days=s.history_days,
                                 every_day=simulate is None, progress=not as_json)
    typer.echo(format_table(result.table))
    result.table.to_csv(out, index=False)
    typer.echo(f"wrote {out}")
    if plot is not None:
        from ._plots import plot_backtest
        for path in plot_backtest(result, svc.cities, plot):
            typer.echo(f"wrote {path}")
    summary = report(result, svc.cities, t0, t1, tr, ts or (tr - timedelta(
        days=s.history_days) if tr else None), met, svc.warn_p, model)
    typer.echo(json.dumps(summary if as_json else result.summary()))


@app.command()
def train(now: Now = None, store: Store = None, registry: Reg = None) -> None:
    """Train candidate models, backtest them on the holdout, promote them if better."""
    s = ForecastSettings()
    res = _service(store, registry).train(_time(now), history_days=s.history_days,
                                          holdout_days=s.holdout_days, progress=True)
    typer.echo(json.dumps(res, default=str, indent=2))


@app.command()
def issue(now: Now = None, store: Store = None, registry: Reg = None,
          dry_run: Annotated[bool, typer.Option(help="Do not write to the store.")] = False
          ) -> None:
    """Issue the air (96 h) and flow (7 d) forecasts once."""
    res = _service(store, registry).issue(_time(now), write=not dry_run)
    typer.echo(json.dumps({k: v for k, v in res.items() if k not in ("frame", "flow", "day")}))


@app.command()
def verify(now: Now = None, days: int = 5, store: Store = None, registry: Reg = None) -> None:
    """Verify stored forecasts of the last DAYS days against observations."""
    rows = _service(store, registry).verify(_time(now), days)
    typer.echo(f"{len(rows)} windows verified")
    if len(rows):
        typer.echo(rows.groupby(["pollutant", "lead_d"])["error"].agg(
            lambda e: (e ** 2).mean() ** 0.5).rename("rmse").to_string())


def _store_and_catalogue(store_url):
    from core.catalogue import load_catalogue
    from core.store import open_store
    cat = load_catalogue()
    return open_store(store_url or load_settings().store_url, cat), cat


@app.command("fetch-weather")
def fetch_weather(
    city: Annotated[Optional[list[str]], typer.Option(
        "--city", help="City slug (repeat for several; default every catalogue city).")] = None,
    url: Annotated[Optional[str], typer.Option(
        "--url", help="Forecast API URL (default [forecast] weather_url, else Open-Meteo's "
                      "https://api.open-meteo.com/v1/forecast).")] = None,
    now: Now = None, store: Store = None,
) -> None:
    """Fetch the weather forecast of each city (Open-Meteo /v1/forecast at the catalogue's
    lat/lon), convert it to catalogue units and store it as measurement met_forecast, the
    live model's weather feed. Prints one JSON line (issue, rows stored per city, failures);
    exit 1 when any city failed (the others are stored all the same)."""
    from ._weather import OPEN_METEO_URL, fetch_open_meteo
    base = url or ForecastSettings().weather_url or OPEN_METEO_URL
    st, cat = _store_and_catalogue(store)
    unknown = [c for c in city or () if c not in cat.cities]
    if unknown:
        raise typer.BadParameter(f"unknown city {unknown[0]!r}", param_hint="--city")
    try:
        res = fetch_open_meteo(st, cat, city or None, url=base,
                               now=_time(now) if now else None)
    finally:
        st.close()
    typer.echo(json.dumps(res.as_dict()))
    if res.failed:
        raise typer.Exit(1)


@app.command("import-weather")
def import_weather(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         help="CSV: city, issued, time, then fields.")],
    source: Annotated[Optional[str], typer.Option(
        help="Source recorded with each issue (default csv:<file name>).")] = None,
    store: Store = None,
) -> None:
    """Import weather forecast fields from CSV (columns city, issued, time and any of temp
    °C, rh %, pressure kPa, wind_speed m/s, wind_dir degrees, precip mm, stagnation; times
    ISO 8601, naive = CST) as measurement met_forecast. Prints the counts as one JSON line."""
    from ._weather import import_weather_csv
    from .errors import FeedError
    st, cat = _store_and_catalogue(store)
    try:
        counts = import_weather_csv(st, cat, file, source)
    except FeedError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    finally:
        st.close()
    typer.echo(json.dumps(counts))
