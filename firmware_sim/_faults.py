"""Injectable device faults and how a device applies them.

Value faults change what a sensor reads: ``stuck``, ``drift`` (relative per day), ``spike``
(a fraction ``rate`` of values times ``value``), ``gauge_off`` (times ``value``).
Tampering (people interfering with a station; PM2.5 and PM10 unless ``param`` is given, the
data stay flagged valid): ``sprayed`` (water sprayed at the inlet: values times ``value``,
default 0.4), ``blocked`` (inlet blocked: times ``value``, default 0.15),
``analyser_offset`` (analyser recalibrated to read low: times ``value``, default 0.6) and
``replaced`` (values replaced by the station's own values ``value`` hours earlier, default
168: a clean week pasted over a polluted one).
Flag faults mark data: ``calibration`` (C), ``maintenance`` (M), ``fault`` (D), ``stop`` (F,
no value). Link faults: ``dropout`` (device silent, data lost), ``comms_outage`` (link down,
the logger buffers and back-fills), ``comms_loss`` (link down, nothing buffered or back-filled by
the device itself: the data stays in its history, sent only when the platform asks for it
with a history request or query), ``clock_skew`` (device clock off by ``value`` seconds).
Packet faults (a fraction ``rate`` of packets): ``bad_crc``, ``swapped_crc``, ``malformed``,
``oversize``. Random choices hash (station, time) so they do not depend on call order.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime

from ._time import parse_duration, parse_time

TAMPER_KINDS = frozenset({"sprayed", "blocked", "analyser_offset", "replaced"})
VALUE_KINDS = frozenset({"stuck", "drift", "spike", "gauge_off"}) | TAMPER_KINDS
FLAG_KINDS = {"calibration": "C", "maintenance": "M", "fault": "D", "stop": "F"}
LINK_KINDS = frozenset({"dropout", "comms_outage", "comms_loss", "clock_skew"})
PACKET_KINDS = frozenset({"bad_crc", "swapped_crc", "malformed", "oversize"})
KINDS = VALUE_KINDS | set(FLAG_KINDS) | LINK_KINDS | PACKET_KINDS
#: Faults that change an air station's values for hours while its data stay flagged valid:
#: what screening for interference looks for. Not: ``spike`` (isolated hours, the edge and
#: ingest quality checks' business), ``gauge_off`` (river gauges), flag, link and packet
#: faults (the data are marked or missing, not falsified).
INTERFERENCE_KINDS = frozenset({"stuck", "drift"}) | TAMPER_KINDS
TAMPER_PARAMS = ("pm25", "pm10")
DEFAULT_VALUE = {"sprayed": 0.4, "blocked": 0.15, "analyser_offset": 0.6, "replaced": 168.0}


def category(kind: str) -> str:
    """'tampering', 'value', 'flag', 'link' or 'packet'."""
    if kind in TAMPER_KINDS:
        return "tampering"
    if kind in VALUE_KINDS:
        return "value"
    return "flag" if kind in FLAG_KINDS else "link" if kind in LINK_KINDS else "packet"


@dataclass(frozen=True)
class Fault:
    kind: str
    station: str
    start: float  # epoch seconds
    end: float
    param: str | None = None  # value and flag faults: None = every parameter
    value: float = 0.0
    rate: float = 1.0

    def active(self, t: float) -> bool:
        return self.start <= t < self.end

    def overlaps(self, t0: float, t1: float) -> bool:
        return self.start < t1 and t0 < self.end


def parse_faults(rows: list[dict], base: datetime) -> list[Fault]:
    out = []
    for i, row in enumerate(rows):
        kind = row.get("kind")
        if kind not in KINDS:
            raise ValueError(f"fault {i}: unknown kind {kind!r}; known: {sorted(KINDS)}")
        start = parse_time(row.get("start", "+0h"), base=base)
        end = start + parse_duration(row.get("duration", "1h"))
        value = float(row.get("value", DEFAULT_VALUE.get(kind, 0.0)))
        out.append(Fault(kind, str(row["station"]), start.timestamp(), end.timestamp(),
                         row.get("param"), value,
                         float(row.get("rate", 1.0))))
    return out


def chance(station: str, t: float, salt: str = "") -> float:
    """Deterministic uniform 0..1 for (station, time, salt)."""
    return zlib.crc32(f"{station}|{int(t)}|{salt}".encode()) / 4294967296.0


class StationFaults:
    """The faults of one station, applied to rows of values (``params`` order)."""

    __slots__ = ("station", "params", "value", "flag", "link", "packet", "_stuck")

    def __init__(self, station: str, params: tuple[str, ...], faults: list[Fault]) -> None:
        self.station, self.params = station, params
        self.value = [f for f in faults if f.kind in VALUE_KINDS]
        self.flag = [f for f in faults if f.kind in FLAG_KINDS]
        self.link = [f for f in faults if f.kind in LINK_KINDS]
        self.packet = [f for f in faults if f.kind in PACKET_KINDS]
        self._stuck: dict[Fault, list[float]] = {}

    def __bool__(self) -> bool:
        return bool(self.value or self.flag or self.link or self.packet)

    def _indices(self, f: Fault) -> range | list[int]:
        if f.param is None and f.kind in TAMPER_KINDS:
            return [self.params.index(p) for p in TAMPER_PARAMS if p in self.params]
        if f.param is None:
            return range(len(self.params))
        return [self.params.index(f.param)] if f.param in self.params else []

    def apply(self, t0: float, t1: float, values: list[float | None], flags: list[str],
              sampler_at=None) -> None:
        """Apply value and flag faults to one sample (t0 == t1) or interval [t0, t1) in place.

        ``sampler_at(t)`` gives the fault-free row at t (for ``stuck``)."""
        mid = 0.5 * (t0 + t1)
        for f in self.value:
            if not (f.active(mid) if t0 == t1 else f.overlaps(t0, t1)):
                continue
            for i in self._indices(f):
                v = values[i]
                if v is None:
                    continue
                if f.kind == "stuck":
                    if f not in self._stuck:
                        self._stuck[f] = list(sampler_at(f.start))
                    values[i] = self._stuck[f][i]
                elif f.kind == "drift":
                    values[i] = v * (1.0 + f.value * max(mid - f.start, 0.0) / 86400.0)
                elif f.kind == "spike":
                    if chance(self.station, t0, self.params[i]) < f.rate:
                        values[i] = v * f.value
                elif f.kind == "replaced":
                    values[i] = float(sampler_at(mid - f.value * 3600.0)[i])
                else:  # gauge_off, sprayed, blocked, analyser_offset
                    values[i] = v * f.value
        for f in self.flag:
            if f.overlaps(t0, t1 if t1 > t0 else t0 + 1e-6):
                flag = FLAG_KINDS[f.kind]
                for i in self._indices(f):
                    flags[i] = flag
                    if flag == "F":
                        values[i] = None

    def link_state(self, t: float) -> str | None:
        """'dropout', 'comms_outage' or 'comms_loss' when active at t, else None."""
        for f in self.link:
            if f.kind != "clock_skew" and f.active(t):
                return f.kind
        return None

    def outage_end(self, t: float) -> float:
        return max((f.end for f in self.link if f.kind == "comms_outage" and f.active(t)),
                   default=t)

    def skew(self, t: float) -> float:
        return sum(f.value for f in self.link if f.kind == "clock_skew" and f.active(t))

    def packet_fault(self, t: float) -> str | None:
        for f in self.packet:
            if f.active(t) and (f.rate >= 1.0 or chance(self.station, t, f.kind) < f.rate):
                return f.kind
        return None


def faults_by_station(faults: tuple[Fault, ...] | list[Fault]) -> dict[str, list[Fault]]:
    out: dict[str, list[Fault]] = {}
    for f in faults:
        out.setdefault(f.station, []).append(f)
    return out
