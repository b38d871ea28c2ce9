"""Local quality control: from a device's values to a wire-format v1 reading.

Nothing is dropped silently; every decision is counted under a reason and, for values,
recorded in the reading's HJ 212 flags:

* device flags are carried through (the agent never overrides a flag other than N), upper
  case (``core.flags.normalise``: a logger sending ``t`` means ``T``);
* a value outside the catalogue's physically possible range is **left out** of ``values``
  (the wire format refuses it) and counted as ``dropped.out_of_range``, its raw value logged;
* above the device's instrument range (``range_max``) but physically possible: flag ``T``;
* a rate-of-change spike (jump larger than ``qc.spike[param]`` from the last accepted value of
  the same period) or a flat line (see :class:`StuckPolicy`): flag ``D``;
* device clock skew (its send time, HJ 212 QN or SL 651 send time, more than ``max_skew_s``
  from the agent's clock): ``ts`` stays the device's, ``agent_ts`` carries the agent's estimate;
* data older than its own send time by more than period + ``backfill_grace_s``: ``backfill``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone

from core.catalogue import Catalogue
from core.flags import normalise
from core.wire import parse_period, reading_dict

from ._config import QcConfig
from ._stats import RateLimitedLog, Stats

log = logging.getLogger(__name__)
_MAX_AHEAD_S = 86400 - 600  # the wire decoder refuses ts more than a day ahead
_MIN_TS = datetime(2000, 1, 2, tzinfo=timezone.utc).timestamp()
_SPIKE_ACCEPT = 3  # this many "spikes" in a row are a new level, not a spike
_HOUR_S = 3600

#: Instrument resolution: the smallest step a reading moves by (µg/m³; CO mg/m³; °C; %).
RESOLUTION = {"pm25": 1.0, "pm10": 1.0, "so2": 1.0, "no2": 1.0, "o3": 1.0, "co": 0.1,
              "temp": 0.1, "rh": 1.0}
#: Parameters whose value is a concentration (a floor above zero applies to them).
CONCENTRATIONS = frozenset({"pm25", "pm10", "so2", "no2", "o3", "co"})


@dataclass(frozen=True, slots=True)
class StuckPolicy:
    """When a run of identical values is a stuck instrument rather than clean, steady air.

    A reading repeats by chance while the instrument's noise stays under one resolution
    step, which is normal near zero: integer SO2 at 12 µg/m³ or CO at 1.2 mg/m³ (0.1
    resolution) repeat for hours in clean air, hourly means above all (averaging removes
    the noise). So a concentration is checked only at or above a floor of
    ``min_steps`` x its resolution, and hourly (or longer) data only far above zero
    (``hourly_min_steps``) over a longer run (``hourly_count`` readings):

    * sub-hourly data (minute, real-time): ``stuck_count`` identical readings in a row
      (default 6) at >= 20 steps (SO2/NO2/O3/PM >= 20 µg/m³, CO >= 2.0 mg/m³);
    * hourly data: 12 identical hours at >= 100 steps (SO2 >= 100 µg/m³, CO >= 10 mg/m³),
      so hourly gases at low concentrations are never checked by default.

    Temperature and humidity have no floor (the count alone). ``resolution`` overrides
    :data:`RESOLUTION` per parameter.
    """

    min_steps: float = 20
    hourly_min_steps: float = 100
    hourly_count: int = 12
    resolution: tuple[tuple[str, float], ...] = ()

    @classmethod
    def of(cls, qc: QcConfig) -> "StuckPolicy":
        """The policy of a QC config: its optional ``stuck_*`` settings, else the defaults."""
        d = cls()
        return cls(getattr(qc, "stuck_min_steps", None) or d.min_steps,
                   getattr(qc, "stuck_hourly_min_steps", None) or d.hourly_min_steps,
                   getattr(qc, "stuck_hourly_count", None) or d.hourly_count,
                   tuple((getattr(qc, "stuck_resolution", None) or {}).items()))

    def floor(self, name: str, hourly: bool) -> float:
        """The lowest value a run of ``name`` is judged at (0 for non-concentrations)."""
        if name not in CONCENTRATIONS:
            return 0.0
        step = dict(self.resolution).get(name, RESOLUTION.get(name, 0.0))
        return step * (self.hourly_min_steps if hourly else self.min_steps)

    def count(self, stuck_count: int, hourly: bool) -> int:
        """Identical readings in a row that make a flat line."""
        return max(stuck_count, self.hourly_count) if hourly else stuck_count


@dataclass(slots=True)
class _Track:
    last_ts: float = float("-inf")
    ref: float | None = None
    spikes: int = 0
    run: int = 0
    run_value: float | None = None


@dataclass(slots=True)
class RawReading:
    """What a protocol session hands over: scaled values in canonical names."""

    station: str
    ts: datetime
    period: str
    values: dict[str, float]
    flags: dict[str, str] = field(default_factory=dict)
    sent: datetime | None = None  # the device's own send time, when the protocol carries it


@dataclass(slots=True)
class Checked:
    """A reading ready for the queue."""

    station: str
    ts: float
    period: str
    body: dict


class QualityControl:
    """Per-station QC state; ``check`` turns a :class:`RawReading` into a :class:`Checked`."""

    def __init__(self, catalogue: Catalogue, defaults: QcConfig, stats: Stats, *,
                 clock) -> None:
        self._cat, self._defaults, self._stats, self._clock = catalogue, defaults, stats, clock
        self._per_station: dict[str, QcConfig] = {}
        self._tracks: dict[tuple[str, str, str], _Track] = {}
        self._ranges: dict[str, dict[str, float]] = {}
        self._policies: dict[int, tuple[QcConfig, StuckPolicy]] = {}
        self._rlog = RateLimitedLog(log)

    def set_config(self, station: str, qc: QcConfig) -> None:
        self._per_station[station] = qc

    def set_ranges(self, station: str, ranges: dict[str, float]) -> None:
        self._ranges[station] = ranges

    def config(self, station: str) -> QcConfig:
        return self._per_station.get(station, self._defaults)

    def check(self, raw: RawReading) -> Checked | None:
        """None when no value survives (counted as ``dropped.no_values``)."""
        qc, st = self.config(raw.station), raw.station
        now = self._clock()
        values = self._physical(st, raw.values)
        flags = self._flags(st, raw.flags, values)
        ts = raw.ts.timestamp()
        period_s = (parse_period(raw.period) or ("", 0))[1]
        sent = raw.sent.timestamp() if raw.sent is not None else None
        agent_ts, backfill = self._timing(st, qc, ts, sent, now, period_s)
        if not backfill:
            self._rate_checks(st, qc, raw.period, ts, values, flags, period_s >= _HOUR_S)
        self._instrument_range(st, values, flags)
        if not values:
            self._stats.inc("dropped", station=st)
            self._stats.inc("dropped.no_values", station=st)
            return None
        wire_ts = raw.ts
        if ts > now + _MAX_AHEAD_S or ts < _MIN_TS:  # unpublishable: use the agent's estimate
            wire_ts = agent_ts or datetime.fromtimestamp(now, timezone.utc)
            self._stats.inc("qc.ts_replaced", station=st)
            ts = wire_ts.timestamp()
        body = reading_dict(wire_ts, raw.period, values, flags, agent_ts=agent_ts,
                            backfill=backfill)
        return Checked(st, ts, raw.period, body)

    def _physical(self, st: str, values: dict[str, float]) -> dict[str, float]:
        out = {}
        for name, v in values.items():
            p = self._cat.parameters.get(name)
            if p is not None and p.min <= v <= p.max:
                out[name] = v
                continue
            self._stats.inc("values_dropped.out_of_range", station=st)
            self._rlog.warning(f"range:{st}:{name}", "station %s: %s=%r outside the physical "
                               "range, left out of the reading", st, name, v)
        return out

    def _flags(self, st: str, flags: dict[str, str], values: dict) -> dict[str, str]:
        out = {}
        for name, f in flags.items():
            if name in values:
                out[name] = normalise(f) or "N"
            else:
                self._stats.inc("qc.flag_without_value", station=st)
        return out

    def _timing(self, st, qc: QcConfig, ts, sent, now, period_s):
        agent_ts = None
        if sent is not None:
            skew = sent - now
        else:
            skew = ts - now if ts - now > qc.max_skew_s + period_s else 0.0
        if abs(skew) > qc.max_skew_s:
            agent_ts = datetime.fromtimestamp(ts - skew, timezone.utc)
            self._stats.inc("qc.clock_skew", station=st)
            self._rlog.warning(f"skew:{st}", "station %s: device clock %+.0f s off the agent's",
                               st, skew)
        lag = (sent if sent is not None else now) - ts
        backfill = lag > period_s + qc.backfill_grace_s
        if backfill:
            self._stats.inc("backfill", station=st)
        return agent_ts, backfill

    def _rate_checks(self, st, qc: QcConfig, period, ts, values, flags, hourly: bool) -> None:
        policy = self._policy(qc)
        for name, v in values.items():
            track = self._tracks.setdefault((st, name, period), _Track())
            if ts <= track.last_ts:
                continue  # out of order: no rate checks
            track.last_ts = ts
            reason = self._spike(track, qc.spike.get(name), v) or \
                self._stuck(track, qc, policy, name, v, hourly)
            if reason and flags.get(name, "N") == "N":
                flags[name] = "D"
                self._stats.inc("qc_flags", station=st)
                self._stats.inc(f"qc.{reason}", station=st)
                log.debug("station %s: %s=%r flagged D (%s)", st, name, v, reason)

    @staticmethod
    def _spike(track: _Track, limit: float | None, v: float) -> str | None:
        if limit is None or track.ref is None or abs(v - track.ref) <= limit:
            track.ref, track.spikes = v, 0
            return None
        track.spikes += 1
        if track.spikes >= _SPIKE_ACCEPT:  # a new level
            track.ref, track.spikes = v, 0
        return "spike"

    def _policy(self, qc: QcConfig) -> StuckPolicy:
        key = id(qc)
        cached = self._policies.get(key)
        if cached is None or cached[0] is not qc:
            cached = self._policies[key] = (qc, StuckPolicy.of(qc))
        return cached[1]

    @staticmethod
    def _stuck(track: _Track, qc: QcConfig, policy: StuckPolicy, name: str, v: float,
               hourly: bool) -> str | None:
        if name not in qc.stuck_params:
            return None
        if v == track.run_value:
            track.run += 1
        else:
            track.run, track.run_value = 1, v
        if abs(v) < policy.floor(name, hourly):
            return None   # near zero a steady reading is clean air, not a fault
        return "stuck" if track.run >= policy.count(qc.stuck_count, hourly) else None

    def _instrument_range(self, st: str, values: dict, flags: dict) -> None:
        for name, limit in self._ranges.get(st, {}).items():
            if name in values and values[name] > limit and flags.get(name, "N") == "N":
                flags[name] = "T"
                self._stats.inc("qc_flags", station=st)
                self._stats.inc("qc.above_range", station=st)
