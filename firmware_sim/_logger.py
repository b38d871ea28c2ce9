"""The HJ 212 data logger of one air station.

Uploads 2011 real-time data every ``realtime_interval_s``, 2051 minute data every
``minute_interval_s``, 2061 hourly data and (optionally) 2031 daily data shortly after each
period ends (DataTime = period start, local time). Uploads in ``ack_cns`` ask for a 9014 and
are resent ``retries`` times when it does not come within ``ack_timeout_s``. Answers the
platform's commands: 1000 (OverTime/ReCount), 1011/1012 (system time), 1061/1062 (real-time
interval), 1063/1064 (minute interval), 2011/2012 (start/stop real-time data) and history
requests 2051/2061/2031 with BeginTime/EndTime.
"""
from __future__ import annotations

import logging
import math
import re

from core.catalogue import Station
from edge.protocols.hj212 import (CN, DecodeError, ExeRtn, Packet, QnRtn, StreamDecoder,
                                  build_exec_reply, build_request_reply, encode_packet,
                                  parse_data_time, qn_rtn_for)

from ._device import Device, Emit, Stream
from ._faults import StationFaults, chance
from ._hj212enc import UploadEncoder, local_stamp, qn_of
from ._physics import rng_for
from ._scenario import AirDeviceConfig
from ._stations import Sampler, station_key

log = logging.getLogger(__name__)
DAY = 86400.0
CST_OFFSET = 28800.0


class Hj212Logger(Device):
    kind = "air"
    reports = frozenset({"2051", "2061", "2031"})

    def __init__(self, station: Station, sampler: Sampler, faults: StationFaults,
                 cfg: AirDeviceConfig, codes: dict[str, str], *, seed: int = 0,
                 mn: str | None = None) -> None:
        super().__init__()
        self.station, self.sampler, self.faults, self.cfg = station, sampler, faults, cfg
        self.name = self.mn = mn or station.id
        self.enc = UploadEncoder(self.mn, sampler.params, codes, pw=cfg.password)
        self.rng = rng_for(seed, 400, station_key(station.id))
        self.phase = chance(station.id, 0, "phase")
        self.rtd_interval = cfg.realtime_interval_s
        self.minute_interval = cfg.minute_interval_s
        self.ack_timeout_s, self.retries = cfg.ack_timeout_s, cfg.retries
        self.buffer_limit = cfg.buffer_limit
        self.time_offset = 0.0  # set by the platform (1012)
        self.decoder = StreamDecoder()
        self._rtd: Stream | None = None
        self._n = len(sampler.params)

    # -- schedule -------------------------------------------------------------------------------
    def streams(self, start: float, end: float) -> list[Stream]:
        cfg, out = self.cfg, []
        step = self.rtd_interval if self.rtd_interval > 0 else 60.0
        first = start + self.phase * step if self.rtd_interval > 0 else math.inf
        self._rtd = Stream("rtd", first, step, self._realtime)  # off until 2011 if disabled
        out.append(self._rtd)
        if self.minute_interval > 0:
            out.append(Stream("2051", _next_boundary(start, self.minute_interval)
                              + 2 + 20 * self.phase, self.minute_interval, self._minute))
        if cfg.hourly:
            out.append(Stream("2061", _next_boundary(start, 3600) + 5 + 50 * self.phase, 3600,
                              self._hourly))
        if cfg.daily:
            out.append(Stream("2031", _next_boundary(start + CST_OFFSET, DAY) - CST_OFFSET
                              + 30 + 60 * self.phase, DAY, self._daily))
        return out

    def device_time(self, t: float) -> float:
        return t + self.time_offset + (self.faults.skew(t) if self.faults else 0.0)

    # -- uploads --------------------------------------------------------------------------------
    def _realtime(self, t: float) -> list[Emit]:
        values = self.sampler.noisy(t, self.rng).tolist()
        flags = ["N"] * self._n
        fault = None
        if self.faults:
            self.faults.apply(t, t, values, flags, self.sampler.at)
            fault = self.faults.packet_fault(t)
        return [(self.enc.realtime(self.device_time(t), values, flags, fault), False, None, None)]

    def _interval(self, cn: str, t0: float, t1: float, t_send: float, ack: bool) -> Emit:
        avg = self.sampler.mean(t0, t1).tolist()
        lo, hi = self.sampler.min_max(t0, t1)
        rows = {"Min": lo.tolist(), "Avg": avg, "Max": hi.tolist()}
        flags = ["N"] * self._n
        fault = None
        if self.faults:
            for name in ("Min", "Max", "Avg"):
                flags = ["N"] * self._n
                self.faults.apply(t0, t1, rows[name], flags, self.sampler.at)
            fault = self.faults.packet_fault(t_send)
        skew = self.device_time(t_send) - t_send
        qn = qn_of(t_send + skew)
        data = self.enc.upload(cn, t0 + skew, t_send + skew, rows, flags, ack=ack, fault=fault)
        resend = None
        if ack and fault == "bad_crc":  # line noise: the resent copy arrives intact
            resend = self.enc.upload(cn, t0 + skew, t_send + skew, rows, flags, ack=ack)
        return data, True, (qn if ack else None), resend

    def _minute(self, t: float) -> list[Emit]:
        t1 = math.floor(t / self.minute_interval) * self.minute_interval
        return [self._interval("2051", t1 - self.minute_interval, t1, t,
                               "2051" in self.cfg.ack_cns)]

    def _hourly(self, t: float) -> list[Emit]:
        t1 = math.floor(t / 3600) * 3600
        return [self._interval("2061", t1 - 3600, t1, t, "2061" in self.cfg.ack_cns)]

    def _daily(self, t: float) -> list[Emit]:
        t1 = math.floor((t + CST_OFFSET) / DAY) * DAY - CST_OFFSET
        return [self._interval("2031", t1 - DAY, t1, t, "2031" in self.cfg.ack_cns)]

    # -- the platform's side ------------------------------------------------------------------
    def on_data(self, data: bytes) -> None:
        self.catch_up()
        for item in self.decoder.feed(data):
            if isinstance(item, DecodeError):
                request = _history_request(item)
                if request is None:
                    if item.packet is not None and item.packet.st != "91":
                        self._reply(build_request_reply(item.packet, qn_rtn_for(item)))
                    continue
                item = request
            try:
                self._command(item)
            except (ValueError, KeyError) as exc:
                log.debug("bad command device=%s cn=%s: %s", self.mn, item.cn, exc)
                self._reply(build_request_reply(item, QnRtn.REJECTED))

    def _reply(self, packet: Packet) -> None:
        self.send_now(encode_packet(packet), packet.cn)

    def _command(self, p: Packet) -> None:
        if p.cn == CN.DATA_ANSWER:
            self.acked(p.qn)
            return
        if p.st == "91":
            return  # other answers from the platform (9011/9012/9013) need nothing
        self.stats.commands[p.cn] += 1
        if p.mn != self.mn:
            return self._reply(build_request_reply(p, QnRtn.BAD_MN))
        if p.pw != self.cfg.password:
            return self._reply(build_request_reply(p, QnRtn.BAD_PW))
        handler = _HANDLERS.get(p.cn)
        if handler is None:
            return self._reply(build_request_reply(p, QnRtn.REJECTED))
        self._reply(build_request_reply(p, QnRtn.READY))
        result = handler(self, p)
        if result is not None:
            self._reply(build_exec_reply(p, result))

    def _upload_cp(self, p: Packet, cp: dict[str, str]) -> None:
        """A device upload answering a request (1011, 1061, 1063): same QN, our CP."""
        reply = Packet("22", p.cn, self.mn, self.cfg.password, p.qn, self.enc.flag_plain, cp=cp)
        self.send_now(encode_packet(reply), p.cn)

    def _set_timeouts(self, p: Packet) -> int:
        self.ack_timeout_s = float(p.cp.get("OverTime", self.ack_timeout_s))
        self.retries = int(p.cp.get("ReCount", self.retries))
        return ExeRtn.SUCCESS

    def _get_time(self, p: Packet) -> int:
        self._upload_cp(p, {"SystemTime": local_stamp(self.device_time(self.t))})
        return ExeRtn.SUCCESS

    def _set_time(self, p: Packet) -> int:
        wanted = parse_data_time(p.cp["SystemTime"]).timestamp()
        self.time_offset += wanted - self.device_time(self.t)
        return ExeRtn.SUCCESS

    def _get_rtd_interval(self, p: Packet) -> int:
        self._upload_cp(p, {"RtdInterval": str(int(self.rtd_interval))})
        return ExeRtn.SUCCESS

    def _set_rtd_interval(self, p: Packet) -> int:
        self.rtd_interval = float(p.cp["RtdInterval"])
        if self.rtd_interval <= 0:
            raise ValueError("RtdInterval must be positive")
        if self._rtd is not None:
            self._rtd.step = self.rtd_interval
        return ExeRtn.SUCCESS

    def _get_min_interval(self, p: Packet) -> int:
        self._upload_cp(p, {"MinInterval": str(int(self.minute_interval // 60))})
        return ExeRtn.SUCCESS

    def _set_min_interval(self, p: Packet) -> int:
        self.minute_interval = float(p.cp["MinInterval"]) * 60
        return ExeRtn.SUCCESS

    def _rtd_on(self, p: Packet) -> None:
        if self._rtd is not None and math.isinf(self._rtd.next):
            self.rtd_interval = self._rtd.step
            self._rtd.next = self.t + self._rtd.step
        return None

    def _rtd_off(self, p: Packet) -> None:
        if self._rtd is not None:
            self._rtd.next = math.inf
        return None

    def _history(self, p: Packet) -> int:
        period = {"2051": self.minute_interval or 600.0, "2061": 3600.0, "2031": DAY}[p.cn]
        begin = parse_data_time(p.cp["BeginTime"]).timestamp()
        end = parse_data_time(p.cp["EndTime"]).timestamp()
        shift = CST_OFFSET if p.cn == "2031" else 0.0
        t0 = math.ceil((begin + shift) / period) * period - shift
        sent = 0
        while t0 <= end and t0 + period <= min(self.t, self.sampler.t_end) and sent < 1000:
            data = self._interval(p.cn, t0, t0 + period, self.t, False)[0]
            self.send_now(data, f"history-{p.cn}")
            t0 += period
            sent += 1
        return ExeRtn.SUCCESS if sent else ExeRtn.NO_DATA


_HANDLERS = {
    "1000": Hj212Logger._set_timeouts, "1011": Hj212Logger._get_time,
    "1012": Hj212Logger._set_time, "1061": Hj212Logger._get_rtd_interval,
    "1062": Hj212Logger._set_rtd_interval, "1063": Hj212Logger._get_min_interval,
    "1064": Hj212Logger._set_min_interval, "2011": Hj212Logger._rtd_on,
    "2012": Hj212Logger._rtd_off, "2051": Hj212Logger._history,
    "2061": Hj212Logger._history, "2031": Hj212Logger._history,
}


_KV = re.compile(r"(QN|ST|CN|PW|MN|Flag|BeginTime|EndTime)=([^;,&]*)")


def _history_request(error: DecodeError) -> Packet | None:
    """A platform's 2051/2061/2031 history request (BeginTime/EndTime, no DataTime).

    The codec insists on DataTime for these CNs (it reads them as uploads), so such a request
    arrives as a DecodeError on field DataTime; its CRC has been checked by then."""
    if error.field != "DataTime" or b"BeginTime=" not in (error.raw or b""):
        return None
    fields = dict(_KV.findall(error.raw.decode("utf-8", "replace")))
    if fields.get("CN") not in ("2051", "2061", "2031") or "EndTime" not in fields:
        return None
    flag = fields.get("Flag")
    return Packet(fields.get("ST", ""), fields["CN"], fields.get("MN", ""), fields.get("PW", ""),
                  fields.get("QN"), int(flag) if flag and flag.isdigit() else None,
                  cp={"BeginTime": fields["BeginTime"], "EndTime": fields["EndTime"]})


def _next_boundary(t: float, period: float) -> float:
    """The first multiple of ``period`` strictly after ``t``... or ``t`` itself if aligned."""
    return math.ceil(t / period) * period if t % period else t + period

