"""``fenwei sim``: run the firmware simulator against a platform.

    fenwei sim run --scenario winter-episode --air-target 127.0.0.1:9212 \\
        --hydro-target 127.0.0.1:9651 --speed 600 --duration 7d --seed 1
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Optional

import typer

from ._scenario import scenario_names
from ._sim import Simulation
from .errors import SimError

app = typer.Typer(help="Firmware simulator: HJ 212 air loggers and SL 651 river gauges.",
                  no_args_is_help=True)


@app.callback()
def _main() -> None:
    """Firmware simulator."""


@app.command()
def run(
    scenario: str = typer.Option(..., "--scenario", help="scenario name or TOML path"),
    air_target: Optional[str] = typer.Option(None, "--air-target", help="HJ 212 HOST:PORT"),
    hydro_target: Optional[str] = typer.Option(None, "--hydro-target", help="SL 651 HOST:PORT"),
    speed: float = typer.Option(1.0, "--speed", help="simulated seconds per real second (inf ok)"),
    duration: Optional[str] = typer.Option(None, "--duration", help="e.g. 7d, 36h (default: scenario's)"),
    seed: Optional[int] = typer.Option(None, "--seed", help="default: the scenario's seed"),
    stations: Optional[int] = typer.Option(None, "--stations", help="cap on devices started"),
    start: Optional[str] = typer.Option(None, "--start", help="ISO start (naive = CST)"),
    micro_stations: int = typer.Option(0, "--micro-stations", help="extra simulated air micro-stations"),
    realtime_interval: Optional[float] = typer.Option(
        None, "--realtime-interval", help="2011 interval in simulated s (0 = off)"),
    minute_interval: Optional[float] = typer.Option(
        None, "--minute-interval", help="2051 interval in simulated s (0 = off)"),
    ack_floor: float = typer.Option(0.5, "--ack-floor", help="a logger waits at least this "
                                    "many real seconds for an acknowledgement"),
    log_level: str = typer.Option("WARNING", "--log-level"),
) -> None:
    """Start the devices and run them until the simulated duration has passed."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if not air_target and not hydro_target:
        raise typer.BadParameter("give --air-target and/or --hydro-target")
    try:
        sim = Simulation(scenario, seed=seed, stations=stations, start=start,
                         duration=duration, micro_stations=micro_stations)
        changes = {k: v for k, v in (("realtime_interval_s", realtime_interval),
                                     ("minute_interval_s", minute_interval)) if v is not None}
        if changes:
            sim.scenario = sim.scenario.with_devices(**changes)
        report = asyncio.run(sim.run(air_target, hydro_target, speed=speed,
                                     clock=_shared_clock(sim, speed),
                                     ack_floor_real_s=ack_floor))
    except SimError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:  # pragma: no cover - interactive
        raise typer.Exit(130) from None
    t = report.totals
    typer.echo(json.dumps({
        "scenario": sim.scenario.name, "seed": sim.seed, "start": sim.start.isoformat(),
        "devices": report.devices, "sim_seconds": report.sim_seconds,
        "real_seconds": round(report.real_seconds, 3), "frames": dict(t.sent),
        "buffered": t.buffered, "backfilled": t.backfilled, "lost": t.lost,
        "skipped_late": t.skipped_late, "retries": t.retries, "ack_failures": t.ack_failures,
        "connects": t.connects,
    }))


def _shared_clock(sim: Simulation, speed: float):
    """With a warped clock in the settings (FENWEI_CLOCK_*, a stack replaying a scenario),
    the devices follow it; its start must be the scenario's."""
    from core.clock import ClockError, clock_from
    from ._clock import AnchoredClock
    try:
        shared = clock_from()
    except ClockError as exc:
        raise SimError(str(exc)) from None
    if not shared.warped:
        return None
    if abs(shared.start - sim.start.timestamp()) > 1.0:
        raise SimError(f"FENWEI_CLOCK_START {shared.start} is not the scenario's start "
                       f"{sim.start.isoformat()}")
    return AnchoredClock(shared, speed)


@app.command()
def scenarios() -> None:
    """List the packaged scenarios."""
    from ._scenario import load_scenario
    for name in scenario_names():
        sc = load_scenario(name)
        typer.echo(f"{name:16} {sc.start.isoformat()} {sc.duration}  {sc.description}")


@app.command()
def bench(seconds: float = 5.0, stations: int = 1000, workers: int = 1) -> None:
    """Measure 2011 real-time packet generation (stations per second, encode included)."""
    from .bench import run_bench
    typer.echo(json.dumps(run_bench(seconds, stations=stations, workers=workers)))


@app.command()
def hourly(
    scenario: str = typer.Option(..., "--scenario", help="scenario name or TOML path"),
    out: str = typer.Option(..., "--out", help="folder to write into"),
    seed: Optional[int] = typer.Option(None, "--seed", help="default: the scenario's seed"),
    lead: str = typer.Option("14d", "--lead", help="history simulated before the scenario"),
) -> None:
    """Write a scenario's hourly air data as reported (faults applied, flags) and its injected
    faults: hourly.csv, faults.csv and meta.json, to score screening with
    `fenwei inspect score FOLDER`."""
    from pathlib import Path
    from ._scenario import load_scenario
    from ._sim import with_lead
    try:
        sc = load_scenario(scenario)
        sim = Simulation(with_lead(sc, lead), seed=seed)
    except SimError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    frame = sim.hourly_frame("air", faults=True)
    frame.to_csv(folder / "hourly.csv", index=False)
    sim.fault_windows().to_csv(folder / "faults.csv", index=False)
    meta = {"scenario": sc.name, "seed": sim.seed, "data_start": sim.start.isoformat(),
            "start": sc.start.isoformat(), "end": sc.end.isoformat(),
            "stations": int(frame["station"].nunique()), "hours": len(frame)}
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    typer.echo(json.dumps(meta))
