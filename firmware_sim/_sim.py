"""The Simulation: a scenario, a seed and a set of stations -> truth, forecasts and devices."""
from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from core.catalogue import Catalogue, Station, load_catalogue

from ._clock import SimClock
from ._collector import Collector
from ._device import Device, DeviceStats
from ._faults import INTERFERENCE_KINDS, TAMPER_KINDS, TAMPER_PARAMS, StationFaults, category
from ._faults import faults_by_station
from ._forecast import met_forecast
from ._logger import Hj212Logger
from ._physics import Truth, compute_truth
from ._rtu import Sl651Unit
from ._scenario import Scenario, load_scenario
from ._stations import DECIMALS, Sampler, air_sampler, hydro_sampler, synthetic_air_stations
from ._link import parse_target
from ._time import CST as _CST
from ._time import HourGrid, parse_duration, parse_time
from .errors import SimError

log = logging.getLogger(__name__)
SPIN_UP = timedelta(days=6)
FORECAST_TAIL = timedelta(days=5)


@dataclass
class RunReport:
    """What a run did: totals over devices, and each device's own stats."""

    devices: int
    sim_seconds: float
    real_seconds: float
    totals: DeviceStats
    per_device: dict[str, DeviceStats] = field(default_factory=dict)

    @property
    def frames_sent(self) -> int:
        return sum(self.totals.sent.values())


def shift_scenario(sc: Scenario, start: datetime) -> Scenario:
    """The scenario moved to a new start: episodes, fronts, floods and faults move with it."""
    delta = start - sc.start
    if not delta:
        return sc
    ph = sc.physics
    episodes = tuple(replace(e, onset=e.onset + delta) for e in ph.episodes)
    fronts = tuple(replace(f, at=f.at + delta) for f in ph.fronts)
    floods = tuple(replace(f, at=f.at + delta) for f in ph.hydro.floods)
    s = delta.total_seconds()
    faults = tuple(replace(f, start=f.start + s, end=f.end + s) for f in sc.faults)
    physics = replace(ph, episodes=episodes, fronts=fronts, hydro=replace(ph.hydro, floods=floods))
    return replace(sc, start=start, physics=physics, faults=faults)


def with_lead(sc: Scenario, lead: str | timedelta) -> Scenario:
    """The scenario begun ``lead`` earlier, its episodes, fronts, floods and faults where they
    were: history before them (to fit a screening model on, say)."""
    lead = parse_duration(lead) if isinstance(lead, str) else lead
    return replace(sc, start=sc.start - lead, duration=sc.duration + lead)


class Simulation:
    """A deterministic simulation of the region's stations for one scenario.

    >>> sim = Simulation("winter-episode", seed=1)
    >>> sim.city_daily("pm25")            # truth, per CST day and city
    >>> asyncio.run(sim.run("127.0.0.1:9212", "127.0.0.1:9651", speed=3600))

    ``stations`` caps how many devices start (spread over cities); ``micro_stations`` adds that
    many simulated air micro-stations (for load tests); ``station_ids`` picks stations by id.
    """

    def __init__(self, scenario: str | Scenario = "winter-episode", seed: int | None = None,
                 stations: int | None = None, start: str | datetime | None = None,
                 duration: str | timedelta | None = None, *, catalogue: Catalogue | None = None,
                 micro_stations: int = 0, station_ids: Iterable[str] | None = None) -> None:
        sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
        if start is not None:
            sc = shift_scenario(sc, parse_time(start))
        if duration is not None:
            sc = replace(sc, duration=parse_duration(duration))
        self.scenario = sc
        self.seed = sc.seed if seed is None else int(seed)
        self.catalogue = catalogue or load_catalogue()
        self.stations = self._select(stations, micro_stations)
        if station_ids is not None:
            wanted = set(station_ids)
            unknown = wanted - {s.id for s in self.stations}
            if unknown:
                raise SimError(f"unknown or unsimulated stations: {sorted(unknown)}")
            self.stations = [s for s in self.stations if s.id in wanted]
        self._truth: Truth | None = None
        self._samplers: dict[str, Sampler] = {}
        self._faults = faults_by_station(sc.faults)
        self._sections = {s.station: s for s in self.catalogue.sections.values()}
        self._codes = {p.name: p.hj212 for p in self.catalogue.params_of("air") if p.hj212}

    # -- configuration ------------------------------------------------------------------------
    @property
    def start(self) -> datetime:
        return self.scenario.start

    @property
    def end(self) -> datetime:
        return self.scenario.end

    def _select(self, cap: int | None, micro: int) -> list[Station]:
        cat = self.catalogue
        pool = [s for s in cat.stations.values()
                if s.kind == "air" or any(sec.station == s.id for sec in cat.sections.values())]
        pool += synthetic_air_stations(cat, micro, self.seed) if micro else []
        rank: Counter = Counter()
        keyed = []
        for i, s in enumerate(pool):
            keyed.append(((rank[(s.city, s.kind)], s.kind != "air", i), s))
            rank[(s.city, s.kind)] += 1
        ordered = [s for _, s in sorted(keyed, key=lambda kv: kv[0])]
        return ordered if cap is None else ordered[: max(int(cap), 0)]

    @property
    def air_stations(self) -> list[Station]:
        return [s for s in self.stations if s.kind == "air"]

    @property
    def hydro_stations(self) -> list[Station]:
        return [s for s in self.stations if s.kind == "hydro"]

    # -- truth --------------------------------------------------------------------------------
    @property
    def truth(self) -> Truth:
        """City and section fields from 6 days before the start to 5 days after the end."""
        if self._truth is None:
            grid = HourGrid.span(self.start - SPIN_UP, self.end + FORECAST_TAIL)
            self._truth = compute_truth(self.catalogue, grid, self.scenario.physics, self.seed)
        return self._truth

    def sampler(self, station_id: str) -> Sampler:
        s = self._samplers.get(station_id)
        if s is None:
            st = next(x for x in self.stations if x.id == station_id)
            if st.kind == "air":
                s = air_sampler(self.truth, st, self.seed)
            else:
                s = hydro_sampler(self.truth, st, self._sections[st.id].id, self.seed)
            self._samplers[station_id] = s
        return s

    def _window(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame[(frame.index >= self.start) & (frame.index < self.end)]

    def city_hourly(self, param: str) -> pd.DataFrame:
        """Truth hour means per city within the simulation span (index ts UTC)."""
        return self._window(self.truth.city_hourly(param))

    def city_daily(self, param: str) -> pd.DataFrame:
        """Truth daily means per city and CST day within the span."""
        days = self.truth.city_daily(param)
        first, last = self.start.astimezone(_CST).date(), self.end.astimezone(_CST).date()
        return days[(days.index >= first) & (days.index < last)]

    def section_hourly(self, what: str = "discharge") -> pd.DataFrame:
        return self._window(self.truth.section_frame(what))

    def hourly_frame(self, kind: str = "air", faults: bool = False) -> pd.DataFrame:
        """Hour means per station: ts (UTC, hour start), station, city, params; fault-free.

        ``faults=True``: as the stations report them (their hourly uploads, rounded as sent),
        the scenario's value and flag faults applied, and a ``<param>_flag`` column per
        parameter (HJ 212 letters). An hour whose upload a ``dropout`` loses, or a ``stop``
        hour, has no value (a dropout's flag is None). Link faults that delay data
        (``comms_outage``, ``comms_loss``: back-filled or asked for) and packet faults leave
        the hour as it is: what the store holds once ingest has recovered everything."""
        h0 = int(self.start.timestamp() // 3600)
        h1 = int(math.ceil(self.end.timestamp() / 3600))
        parts = []
        for st in (self.air_stations if kind == "air" else self.hydro_stations):
            s = self.sampler(st.id)
            i0 = h0 - int(s.t0 // 3600)
            v = 0.5 * (s.v[i0 : i0 + h1 - h0] + s.v[i0 + 1 : i0 + 1 + h1 - h0])
            df = pd.DataFrame(v, columns=list(s.params))
            if "wind_dir" in df:
                df["wind_dir"] %= 360.0
            if faults:
                df = self._as_reported(st.id, s, df, h0)
            df.insert(0, "city", st.city)
            df.insert(0, "station", st.id)
            df.insert(0, "ts", pd.to_datetime(np.arange(h0, h1) * 3600, unit="s", utc=True))
            parts.append(df)
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def _as_reported(self, sid: str, s: Sampler, df: pd.DataFrame, h0: int) -> pd.DataFrame:
        params = s.params
        vals = df[list(params)].to_numpy(float).copy()
        flags = np.full(vals.shape, "N", dtype=object)
        f = self.station_faults(sid, params)
        if f:
            for k in range(len(vals)):
                t0 = (h0 + k) * 3600.0
                row, fl = vals[k].tolist(), ["N"] * len(params)
                f.apply(t0, t0 + 3600.0, row, fl, s.at)
                if f.link_state(t0 + 3605.0) == "dropout":   # the upload just after the hour
                    row, fl = [None] * len(params), [None] * len(params)
                vals[k] = [np.nan if x is None else x for x in row]
                flags[k] = fl
        out = pd.DataFrame({p: vals[:, j].round(DECIMALS.get(p, 3))
                            for j, p in enumerate(params)})
        for j, p in enumerate(params):
            out[f"{p}_flag"] = flags[:, j]
        return out

    def fault_windows(self) -> pd.DataFrame:
        """The injected faults of the simulated stations, the ground truth to score screening
        against: ``station``, ``kind``, ``category`` (tampering, value, flag, link, packet),
        ``params`` (comma-separated; empty: every parameter), ``start``, ``end`` (UTC),
        ``hours``, ``value`` and ``interference`` (the kind changes the station's values for
        hours while they stay flagged valid: what screening should find)."""
        ids = {s.id for s in self.stations}
        rows = []
        for f in self.scenario.faults:
            if f.station not in ids:
                continue
            params = (f.param,) if f.param else TAMPER_PARAMS if f.kind in TAMPER_KINDS else ()
            rows.append({"station": f.station, "kind": f.kind, "category": category(f.kind),
                         "params": ",".join(params),
                         "start": pd.Timestamp(f.start, unit="s", tz="UTC"),
                         "end": pd.Timestamp(f.end, unit="s", tz="UTC"),
                         "hours": (f.end - f.start) / 3600.0, "value": f.value,
                         "interference": f.kind in INTERFERENCE_KINDS})
        cols = ["station", "kind", "category", "params", "start", "end", "hours", "value",
                "interference"]
        return pd.DataFrame(rows, columns=cols)

    def forecast(self, issue: str | datetime, hours: int = 96, *, error_scale: float = 1.0
                 ) -> pd.DataFrame:
        """Meteorological forecast issued at ``issue`` (see :func:`met_forecast`)."""
        return met_forecast(self.truth, parse_time(issue), hours, error_scale=error_scale,
                            seed=self.seed)

    # -- devices ------------------------------------------------------------------------------
    def station_faults(self, station_id: str, params: tuple[str, ...]) -> StationFaults:
        return StationFaults(station_id, params, self._faults.get(station_id, []))

    def devices(self, kinds: tuple[str, ...] = ("air", "hydro")) -> list[Device]:
        out: list[Device] = []
        sc = self.scenario
        for st in self.stations:
            if st.kind not in kinds:
                continue
            sampler = self.sampler(st.id)
            faults = self.station_faults(st.id, sampler.params)
            if st.kind == "air":
                out.append(Hj212Logger(st, sampler, faults, sc.air, self._codes, seed=self.seed))
            else:
                sec = self._sections[st.id]
                out.append(Sl651Unit(st, sec.sl651_address, sampler, faults, sc.hydro))
        return out

    async def run(self, air_target: str | None, hydro_target: str | None, speed: float = 1.0,
                  duration: str | timedelta | None = None, *, ack_floor_real_s: float = 0.5,
                  clock: SimClock | None = None, target_for=None) -> RunReport:
        """Run every device against its target until the simulated end (or ``duration``).

        ``clock``: a SimClock to share with other parts of a process (it is begun here);
        ``target_for(station) -> "HOST:PORT" | None`` overrides the target per station (one
        gateway per site), ``None`` keeping the kind's target.
        """
        dur = self.scenario.duration if duration is None else parse_duration(duration)
        start = self.start.timestamp()
        end = start + dur.total_seconds()
        targets = {"air": air_target and parse_target(air_target),
                   "hydro": hydro_target and parse_target(hydro_target)}
        if target_for is not None:
            kinds = ("air", "hydro")
        else:
            kinds = tuple(k for k, v in targets.items() if v)
        clock = clock or SimClock(start, speed)
        devices = self.devices(kinds)
        per = {d.name: target_for(d.station) for d in devices} if target_for else {}
        for d in devices:
            d.ack_floor_real_s = ack_floor_real_s
            rtd = getattr(d, "rtd_interval", 0) or 60.0
            d.behind_limit_s = max(3 * rtd, clock.sim_s(2.0))
        t_real = time.perf_counter()
        clock.begin()
        stats = await asyncio.gather(*(
            d.run(clock, parse_target(per[d.name]) if per.get(d.name) else targets[d.kind],
                  start, end, seed=self.seed) for d in devices))
        totals = DeviceStats()
        for s in stats:
            totals.merge(s)
        return RunReport(len(devices), end - start, time.perf_counter() - t_real, totals,
                         {d.name: s for d, s in zip(devices, stats)})

    async def run_local(self, speed: float = math.inf, duration: str | timedelta | None = None,
                        *, kinds: tuple[str, ...] = ("air", "hydro"),
                        ack_floor_real_s: float = 0.5, **collector_options
                        ) -> tuple[Collector, RunReport]:
        """Run against an in-process :class:`Collector` (asyncio TCP listeners on loopback)."""
        async with Collector(**collector_options) as col:
            report = await self.run(col.air_target if "air" in kinds else None,
                                    col.hydro_target if "hydro" in kinds else None,
                                    speed, duration, ack_floor_real_s=ack_floor_real_s)
            await col.settle()
        return col, report

