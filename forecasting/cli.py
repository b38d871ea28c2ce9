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


def _service(store_url, registry, met_feed=None):
    from core.store import open_store
    from ._met import StoreMetFeed
    from ._service import ForecastService
    s = ForecastSettings()
    store = open_store(store_url or load_settings().store_url)
    return ForecastService(store, Registry(registry or s.registry_dir),
                           met_feed=met_feed or StoreMetFeed(store),
                           warn_p=s.warn_probability)


@app.command()
def backtest(
    start: Annotated[Optional[str], typer.Option(help="First origin (ISO, naive = CST).")] = None,
    end: Annotated[Optional[str], typer.Option(help="End of the scored period.")] = None,
    train_end: Annotated[Optional[str], typer.Option(
        help="Train a fresh model on history before this time (default: use the current).")] = None,
    out: Annotated[Path, typer.Option(help="CSV file for the table.")] = Path("backtest.csv"),
    no_met: Annotated[bool, typer.Option("--no-met", help="Ignore the weather feed.")] = False,
    simulate: Annotated[Optional[int], typer.Option(
        help="Simulate two winter seasons with this seed into an in-memory store first "
             "(then start/end/train-end default to the bench's).")] = None,
    store: Store = None, registry: Reg = None,
) -> None:
    """Rolling-origin backtest: MAE/RMSE per lead day and pollutant, skill against
    persistence, POD/FAR/CSI for AQI > 200; prints the table and writes CSV."""
    from ._backtest import format_table
    if simulate is not None:
        from .bench import SCORE_START, TEST_START, simulated_service
        svc, _ = simulated_service(simulate, str(registry or tempfile.mkdtemp()))
        t0 = _time(start) if start else SCORE_START
        t1 = _time(end) if end else TEST_START + timedelta(days=137)
        tr = _time(train_end) if train_end else t0
    else:
        svc = _service(store, registry)
        t1 = _time(end)
        t0 = _time(start) if start else t1 - timedelta(days=30)
        tr = _time(train_end) if train_end else None
    result, _ = svc.backtest(t0, t1, train_end=tr, use_met=not no_met)
    typer.echo(format_table(result.table))
    typer.echo(json.dumps(result.summary()))
    result.table.to_csv(out, index=False)
    typer.echo(f"wrote {out}")


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


@app.command()
def run(store: Store = None, registry: Reg = None) -> None:
    """Run the schedule: issue, verify and retrain (blocks; Ctrl-C stops)."""
    from ._schedule import build_scheduler
    sched = build_scheduler(_service(store, registry))
    try:
        sched.start()
    except (KeyboardInterrupt, SystemExit):
        pass
