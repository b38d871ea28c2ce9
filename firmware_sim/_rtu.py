"""The SL 651-2014 telemetry unit (RTU) of one river gauge, speaking HEX frames.

Sends 34 hourly reports (values at the top of each hour), 32 timed reports every
``timed_interval_s`` and 31 uniform-interval reports (one frame per ``uniform_interval_s``
carrying stage and discharge every ``uniform_step_s``), a 2F keep-alive on connecting and every
``keepalive_s`` (never more often than once per real second), and answers a 37 real-time
query and a 38 period query from its own history (one element per query, values at each time
step from the start hour to the end hour, as a 38 frame laid out like a 31 report). SL 651 has no data flags: flag faults (stop, calibration, maintenance) send the values
as all FF (invalid).
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta

from core.catalogue import Station
from edge.protocols.sl651 import (CHINA_TZ, EndChar, FrameError, FunctionCode,
                                  StreamDecoder, build_frame, encode_up)

from ._device import Device, Emit, Stream
from ._faults import StationFaults, chance
from ._scenario import HydroDeviceConfig
from ._stations import DECIMALS, Sampler

KEEPALIVE_MIN_REAL_S = 1.0
QUERY_PERIOD = 0x38
#: element identifiers a 38 query may ask for -> sampler parameter
QUERY_ELEMENTS = {0x39: "stage", 0x27: "discharge"}
MAX_QUERY_STEPS = 48  # time steps per 38 answer frame (longer spans: several frames)
_UP_HEADER = 14  # 7E 7E, centre, station (5), password (2), function, length (2), STX


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(int(t), CHINA_TZ)


class Sl651Unit(Device):
    kind = "hydro"

    def __init__(self, station: Station, address: str, sampler: Sampler, faults: StationFaults,
                 cfg: HydroDeviceConfig) -> None:
        super().__init__()
        self.station, self.address, self.sampler, self.faults, self.cfg = (
            station, address, sampler, faults, cfg)
        self.name = station.id
        self.phase = chance(station.id, 0, "phase")
        self.serial = 0
        self.decoder = StreamDecoder()

    def streams(self, start: float, end: float) -> list[Stream]:
        cfg, out = self.cfg, []
        delay = 3 + 30 * self.phase
        if "34" in cfg.reports:
            out.append(Stream("34", _next(start, 3600) + delay, 3600, self._hourly))
        if "32" in cfg.reports:
            out.append(Stream("32", _next(start, cfg.timed_interval_s) + delay,
                              cfg.timed_interval_s, self._timed))
        if "31" in cfg.reports:
            out.append(Stream("31", _next(start, cfg.uniform_interval_s) + delay,
                              cfg.uniform_interval_s, self._uniform))
        if cfg.keepalive_s > 0 and not self.clock.unbounded:
            every = max(cfg.keepalive_s, self.clock.sim_s(KEEPALIVE_MIN_REAL_S))
            out.append(Stream("2F", start + every * self.phase, every, self._keepalive))
        return out

    def _next_serial(self) -> int:
        self.serial = self.serial % 0xFFFF + 1
        return self.serial

    def _values(self, t: float) -> dict[str, float | None]:
        values: list = self.sampler.at(t).tolist()
        flags = ["N"] * len(values)
        if self.faults:
            self.faults.apply(t, t, values, flags, self.sampler.at)
            values = [None if f != "N" else v for v, f in zip(values, flags)]
        return {p: (None if v is None else round(v, DECIMALS[p]))
                for p, v in zip(self.sampler.params, values)}

    def _frames(self, function: int, t_send: float, observed: float, **kw) -> list[Emit]:
        fault = self.faults.packet_fault(t_send) if self.faults else None
        skew = self.faults.skew(t_send) if self.faults else 0.0
        frames = encode_up(function, self.address, serial=self._next_serial(),
                           sent=_dt(t_send + skew), observed=_dt(observed + skew),
                           centre=self.cfg.centre, password=self.cfg.password, **kw)
        return [(_corrupt(f, fault), True, None, None) for f in frames]

    def _hourly(self, t: float) -> list[Emit]:
        t0 = math.floor(t / 3600) * 3600
        return self._frames(FunctionCode.HOURLY, t, t0, values=self._values(t0))

    def _timed(self, t: float) -> list[Emit]:
        t0 = math.floor(t / self.cfg.timed_interval_s) * self.cfg.timed_interval_s
        return self._frames(FunctionCode.TIMED, t, t0, values=self._values(t0))

    def _uniform(self, t: float) -> list[Emit]:
        step, span = self.cfg.uniform_step_s, self.cfg.uniform_interval_s
        t1 = math.floor(t / span) * span
        times = [t1 - span + step * (k + 1) for k in range(int(span // step))]
        rows = [self._values(x) for x in times]
        series = {p: [r[p] for r in rows] for p in ("stage", "discharge")}
        return self._frames(FunctionCode.UNIFORM_INTERVAL, t, times[0], series=series,
                            step=timedelta(seconds=step))

    def _keepalive(self, t: float) -> list[Emit]:
        if not self.link.up:
            return []
        return [(self._frames(FunctionCode.KEEPALIVE, t, t)[0][0], False, None, None)]

    def on_connect(self) -> None:
        self.send_now(self._frames(FunctionCode.KEEPALIVE, self.t, self.t)[0][0], "2F")

    def on_data(self, data: bytes) -> None:
        self.catch_up()
        for item in self.decoder.feed(data):
            if isinstance(item, FrameError) or item.up:
                continue
            if item.end != EndChar.ENQ:      # the centre's ack of a report or an answer
                self.stats.acked += 1
            elif item.function == FunctionCode.QUERY_REALTIME:
                for frame, *_ in self._frames(FunctionCode.QUERY_REALTIME, self.t, self.t,
                                                values=self._values(self.t)):
                    self.send_now(frame, "37")
                self.stats.commands["37"] += 1
            elif item.function == QUERY_PERIOD:
                self.stats.commands["38"] += 1
                for frame in self._period_answer(item.body):
                    self.send_now(frame, "38")
            else:
                self.stats.acked += 1  # the centre's ack of a report

    def _period_answer(self, body: bytes) -> list[bytes]:
        """38 answer frames for a query body: serial, send time, start and end (yyMMddHH BCD),
        time step (04 18 DDHHMM), element identifier; [] when the query is not understood."""
        query = parse_period_query(body)
        if query is None or query[3] not in QUERY_ELEMENTS:
            return []
        start, end, step, ident = query
        name = QUERY_ELEMENTS[ident]
        times = []
        t = start
        while t <= min(end, self.t) and step > 0:
            times.append(t)
            t += step
        out = []
        for i in range(0, len(times), MAX_QUERY_STEPS):
            chunk = times[i:i + MAX_QUERY_STEPS]
            values = [self._values(x)[name] for x in chunk]
            frame = encode_up(FunctionCode.UNIFORM_INTERVAL, self.address,
                              serial=self._next_serial(), sent=_dt(self.t),
                              observed=_dt(chunk[0]), series={name: values},
                              step=timedelta(seconds=step), centre=self.cfg.centre,
                              password=self.cfg.password)[0]
            out.append(build_frame(up=True, centre=self.cfg.centre, station=self.address,
                                   password=self.cfg.password, function=QUERY_PERIOD,
                                   body=frame[_UP_HEADER:-3], end=EndChar.ETX))
        return out


def _bcd(raw: bytes) -> list[int]:
    return [(b >> 4) * 10 + (b & 15) for b in raw]


def parse_period_query(body: bytes) -> tuple[float, float, float, int] | None:
    """(start, end, step seconds, element id) of a 38 query body, or None."""
    if len(body) < 8 + 4 + 4 + 5 + 2 or body[16] != 0x04:
        return None
    try:
        y0, m0, d0, h0 = _bcd(body[8:12])
        y1, m1, d1, h1 = _bcd(body[12:16])
        dd, hh, mm = _bcd(body[18:21])
        start = datetime(2000 + y0, m0, d0, h0, tzinfo=CHINA_TZ).timestamp()
        end = datetime(2000 + y1, m1, d1, h1, tzinfo=CHINA_TZ).timestamp()
    except ValueError:
        return None
    return start, end, float(((dd * 24 + hh) * 60 + mm) * 60), body[21]


def _corrupt(frame: bytes, fault: str | None) -> bytes:
    if fault == "bad_crc":
        return frame[:-2] + bytes([frame[-2] ^ 0x5A, frame[-1] ^ 0xA5])
    if fault == "swapped_crc":
        return frame[:-2] + frame[-1:] + frame[-2:-1]
    if fault == "malformed":
        return frame[:-5] + frame[-3:]  # two body bytes missing: length and end char disagree
    return frame


def _next(t: float, period: float) -> float:
    """The first multiple of ``period`` at or after ``t`` (a report observes that instant)."""
    return math.ceil(t / period) * period
