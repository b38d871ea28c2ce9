"""One HJ 212 TCP connection, sans I/O: bytes in, replies out.

Replies: 9014 to a stored upload whose Flag asked for one (after the durable write); 9011 with
the protocol's ``QnRtn`` to a refused packet (4 unknown MN, 3 bad PW, 9 CRC error, 8 unknown CN,
...) whenever the packet was readable enough to answer. Unreadable frames are dropped. Every
outcome is counted (``errors.<reason>``, ``unknown_device``, ``bad_password``, ``crc_errors``).
Split uploads are acknowledged part by part once the reassembled reading is stored.

Commands (HJ 212-2017 request flow: 9011 request answer, then 9012 execution result): a request
that reaches the agent (a CN the platform sends, e.g. a 2061 history request with BeginTime and
no DataTime, or 1011) is answered 9011 ``QnRtn=1`` and executed when the agent can (1011: its
system time, then 9012 ``ExeRtn=1``), else 9011 ``QnRtn=2`` (refused). A 1013 (the logger asks
for a time calibration) is answered with 1012. A 9015 heartbeat (HJ 212-2025) is a
notification: it gets a 9013 when its Flag asks for an answer (``build_heartbeat_reply``). The
logger's 9011/9012 answers to the agent's
own commands (history requests, 1012, 1062) are matched by QN, counted and logged.

Device clocks (see ``_clocks.py``): an impossible DataTime is placed on its period grid; a
logger whose clock is off by more than the tolerance is sent 1012.
"""
from __future__ import annotations

import logging
import math
import time
from datetime import datetime, timezone

from edge.protocols.hj212 import (CST, DecodeError, Packet, QnRtn, Reassembler, StreamDecoder,
                                  build_exec_reply, build_heartbeat_reply, build_request_reply,
                                  build_data_reply,
                                  encode_packet, format_data_time, qn_rtn_for, to_readings)

from ._clocks import LoggerClock, impossible, period_start_grid, regrid
from ._config import ClockConfig
from ._devices import Device
from ._fill import hj212_set_time
from ._qc import RawReading
from ._sink import Sink
from ._stats import RateLimitedLog, Stats

log = logging.getLogger(__name__)
_DATA_CNS = frozenset({"2011", "2051", "2061", "2031"})
_MAX_HELD = 256
_MAX_SENT = 256
#: CNs a platform sends to a logger: reaching the agent they are requests to answer (9011)
_REQUEST_CNS = frozenset("1000 1001 1002 1011 1012 1014 1061 1062 1063 1064 1072 2012 2022 "
                         "2041 2081".split()) | {f"30{n}" for n in range(11, 22)}
_PERIOD_S = {"PT0S": 0, "PT1H": 3600, "P1D": 86400}


def qn_time(qn: str | None) -> datetime | None:
    """The send time a QN (yyyyMMddHHmmssSSS, UTC+8) encodes; None when it is not one."""
    if not qn or len(qn) < 14:
        return None
    try:
        ms = int(qn[14:17]) if len(qn) >= 17 else 0
        return datetime.strptime(qn[:14], "%Y%m%d%H%M%S").replace(microsecond=ms * 1000,
                                                                    tzinfo=CST)
    except ValueError:
        return None


class Hj212Session:
    def __init__(self, devices: dict[str, Device], sink: Sink, stats: Stats, *,
                 max_length: int = 4096, clock=time.time, clock_config: ClockConfig | None = None,
                 logger_clocks: dict[str, LoggerClock] | None = None) -> None:
        swapped = frozenset(mn for mn, d in devices.items() if d.config.crc_swapped_ok)
        self._devices, self._sink, self._stats = devices, sink, stats
        self._clock, self._ccfg = clock, clock_config or ClockConfig()
        self._clocks = {} if logger_clocks is None else logger_clocks   # MN -> its clock
        self.sent: dict[str, tuple[str, str]] = {}   # QN -> (CN, station) of our commands
        self._decoder = StreamDecoder(max_length=max_length, swapped_crc_devices=swapped)
        self._reassembler = Reassembler()
        self._held: dict[tuple, list[Packet]] = {}
        self._rlog = RateLimitedLog(log)
        self.mns: dict[str, Packet] = {}  # MN -> last accepted packet (to address commands)

    def feed(self, data: bytes) -> list[bytes]:
        replies: list[bytes] = []
        for item in self._decoder.feed(data):
            replies += self._handle(item)
        return replies

    def close(self) -> list[bytes]:
        replies: list[bytes] = []
        for item in self._decoder.close():
            replies += self._handle(item)
        return replies

    def _handle(self, item: Packet | DecodeError) -> list[bytes]:
        try:
            if isinstance(item, DecodeError):
                return self._refused(item)
            return self._packet(item)
        except Exception:  # noqa: BLE001 - one bad packet must not end the connection
            log.exception("HJ 212: unexpected error handling a packet")
            self._stats.inc("errors.internal")
            return []

    def _refused(self, err: DecodeError) -> list[bytes]:
        reason = err.reason.value
        self._stats.inc(f"errors.{reason}")
        pkt = err.packet
        dev = self._devices.get(pkt.mn) if pkt is not None else None
        station = dev.station.id if dev else None
        if reason == "bad_crc":
            self._stats.inc("crc_errors", station=station)
        self._rlog.warning(f"hj212:{reason}", "HJ 212 packet refused (%s): %s", reason,
                           err.detail)
        if pkt is None:
            self._stats.inc("dropped_frames")
            return []
        return [self._error_reply(pkt, qn_rtn_for(err))]

    def _error_reply(self, pkt: Packet, rtn: int) -> bytes:
        self._stats.inc(f"replies.qnrtn_{int(rtn)}")
        return encode_packet(build_request_reply(pkt, rtn))

    def expect(self, pkt: Packet, station: str) -> None:
        """A command we sent (its QN): the logger's 9011/9012 answers are matched to it."""
        if pkt.qn:
            self.sent[pkt.qn] = (pkt.cn, station)
            while len(self.sent) > _MAX_SENT:
                self.sent.pop(next(iter(self.sent)))

    def _device_reply(self, pkt: Packet) -> list[bytes]:
        """A logger's 9011/9012 (or 9013/9014) answer to one of our commands."""
        self._stats.inc("device_replies")
        cn, station = self.sent.get(pkt.qn or "", ("?", None))
        if pkt.cn == "9011":
            rtn = pkt.cp.get("QnRtn", "?")
            self._stats.inc(f"commands.{cn}.qnrtn_{rtn}", station=station)
            if rtn != "1":
                log.warning("station %s: logger %s refused command CN %s (QnRtn=%s)", station,
                            pkt.mn, cn, rtn)
        elif pkt.cn == "9012":
            rtn = pkt.cp.get("ExeRtn", "?")
            self._stats.inc(f"commands.{cn}.exertn_{rtn}", station=station)
            self.sent.pop(pkt.qn or "", None)
            (log.info if rtn in ("1", "100") else log.warning)(
                "station %s: logger %s executed CN %s: ExeRtn=%s", station, pkt.mn, cn, rtn)
        return []

    def _packet(self, pkt: Packet) -> list[bytes]:
        self._stats.inc("packets")
        if pkt.st == "91":  # a device's answer to one of our commands
            return self._device_reply(pkt)
        dev = self._devices.get(pkt.mn)
        if dev is None:
            self._stats.inc("unknown_device")
            self._rlog.warning(f"mn:{pkt.mn[:24]}", "HJ 212: unknown MN %r refused (QnRtn=4)",
                               pkt.mn[:24])
            return [self._error_reply(pkt, QnRtn.BAD_MN)]
        station = dev.station.id
        if dev.config.password is not None and pkt.pw != dev.config.password:
            self._stats.inc("bad_password", station=station)
            self._rlog.warning(f"pw:{pkt.mn}", "HJ 212: bad PW from %s (station %s), QnRtn=3",
                               pkt.mn, station)
            return [self._error_reply(pkt, QnRtn.BAD_PW)]
        if pkt.crc_swapped:
            self._stats.inc("crc_swapped", station=station)
        self.mns[pkt.mn] = pkt
        if pkt.cn in _REQUEST_CNS or pkt.cn in ("9015", "1013") or (
                pkt.cn in _DATA_CNS | {"2021"} and pkt.data_time is None):
            return self._command(dev, pkt)
        parts = self._collect(pkt)
        if parts is None:
            return []
        merged = self._reassembler.add(pkt) if pkt.is_split else pkt
        if merged is None:  # cannot happen when _collect says complete; be safe
            return []
        extra = self._check_clock(dev, merged, impossible_time=False)
        if merged.cn in _DATA_CNS:
            stored, bad_time = self._store(dev, merged)
            if bad_time:
                extra = self._check_clock(dev, merged, impossible_time=True) or extra
            if not stored:
                return extra  # not stored (queue full, reject_new): no answer, it resends
        else:
            self._stats.inc(f"ignored_cn.{merged.cn}", station=station)
        return [encode_packet(build_data_reply(p)) for p in parts if p.ack_requested] + extra

    def _command(self, dev: Device, pkt: Packet) -> list[bytes]:
        """A heartbeat, a time-calibration request or a platform's request at the agent."""
        station = dev.station.id
        if pkt.cn == "9015":
            self._stats.inc("heartbeats", station=station)
            reply = build_heartbeat_reply(pkt)
            out = [encode_packet(reply)] if reply is not None else []
            return out + self._check_clock(dev, pkt, impossible_time=False)
        if pkt.cn == "1013":
            self._stats.inc("commands.1013", station=station)
            return self._set_time(dev, pkt, None, reason="the logger asked (CN 1013)")
        self._stats.inc(f"requests.{pkt.cn}", station=station)
        if pkt.cn == "1011":
            now = datetime.fromtimestamp(self._clock(), timezone.utc)
            upload = Packet(pkt.st, "1011", pkt.mn, pkt.pw, pkt.qn, pkt.flag,
                            cp={"SystemTime": format_data_time(now)})
            return [self._error_reply(pkt, QnRtn.READY), encode_packet(upload),
                    encode_packet(build_exec_reply(pkt))]
        self._rlog.warning(f"request:{pkt.mn}:{pkt.cn}", "station %s: CN %s request from %s "
                           "refused (QnRtn=2): the agent executes no such command", station,
                           pkt.cn, pkt.mn)
        return [self._error_reply(pkt, QnRtn.REJECTED)]

    def _check_clock(self, dev: Device, pkt: Packet, *, impossible_time: bool) -> list[bytes]:
        """Sample the logger's send time; a 1012 when its clock is off (see _clocks.py)."""
        cfg = self._ccfg
        now = self._clock()
        clk = self._clocks.get(pkt.mn)
        if clk is None:
            clk = self._clocks[pkt.mn] = LoggerClock(cfg.tolerance_s, cfg.window_s,
                                                     cfg.min_interval_s)
        sent = qn_time(pkt.qn)
        if sent is not None and not impossible_time:
            clk.sample(pkt.cn, sent.timestamp(), now)
        if not cfg.set_time:
            return []
        off = clk.due(now, impossible_time)
        if off is None:
            return []
        return self._set_time(dev, pkt, off, reason="impossible DataTime" if impossible_time
                              else f"tolerance {cfg.tolerance_s:.0f} s")

    def _set_time(self, dev: Device, last: Packet, offset: float | None, reason: str
                  ) -> list[bytes]:
        now_s = self._clock()
        now = datetime.fromtimestamp(now_s, timezone.utc)
        cmd = hj212_set_time(last, now, dev.config.password)
        self.expect(cmd, dev.station.id)
        clk = self._clocks.get(last.mn)
        if clk is not None:
            clk.corrected(now_s)
        self._stats.inc("commands.1012", station=dev.station.id)
        shown = f"{offset:+.0f} s" if offset is not None and math.isfinite(offset) else "?"
        log.warning("station %s: logger %s clock %s off (%s): sent CN 1012 SystemTime=%s",
                    dev.station.id, last.mn, shown, reason, cmd.cp["SystemTime"])
        return [encode_packet(cmd)]

    def _collect(self, pkt: Packet) -> list[Packet] | None:
        """Parts of a split upload seen so far; None until the last one arrives."""
        if not pkt.is_split:
            return [pkt]
        key = (pkt.mn, pkt.cn, pkt.data_time, pkt.pnum)
        held = self._held.setdefault(key, [])
        held[:] = [p for p in held if p.pno != pkt.pno] + [pkt]
        if len(held) < pkt.pnum:
            if len(self._held) > _MAX_HELD:
                self._held.pop(next(iter(self._held)))
            self._reassembler.add(pkt)
            return None
        return self._held.pop(key)

    def _store(self, dev: Device, pkt: Packet) -> tuple[bool, bool]:
        """(stored, the DataTime was impossible and was placed on the grid)."""
        station = dev.station.id
        readings = to_readings(pkt, dev.factor_map, minute_period=dev.config.minute_period)
        raws, bad_time = [], False
        now = self._clock()
        for r in readings:
            if r.unknown_factors:
                self._stats.inc("unknown_factors", len(r.unknown_factors), station=station)
            ts, sent = r.ts, qn_time(pkt.qn)
            if impossible(ts.timestamp(), now):
                bad_time, sent = True, None         # the QN comes from the same wrong clock
                ts = self._grid_time(dev, r.period, ts, now)
            raws.append(RawReading(station, ts, r.period, r.values, r.flags, sent=sent))
        return (self._sink.submit(raws) if raws else True), bad_time

    def _grid_time(self, dev: Device, period: str, ts: datetime, now: float) -> datetime:
        from core.wire import parse_period
        period_s = _PERIOD_S.get(period)
        if period_s is None:
            period_s = (parse_period(period) or ("", 0))[1]
        new = regrid([ts], period_start_grid(now, period_s))[0]
        self._stats.inc("clock.ts_on_grid", station=dev.station.id)
        self._rlog.warning(f"grid:{dev.station.id}", "station %s: impossible DataTime %s "
                           "(%s data) placed at %s on its period grid", dev.station.id,
                           ts.isoformat(), period, new.isoformat())
        return new


def interval_command(last: Packet, interval_s: int, now: datetime) -> bytes:
    """CN=1062 (set real-time data interval) to a logger, addressed like its last packet."""
    from edge.protocols.hj212 import make_flag, make_qn
    pkt = Packet(last.st, "1062", last.mn, last.pw, make_qn(now),
                 None if last.flag is None else make_flag(ack=True, version=last.version),
                 cp={"RtdInterval": str(int(interval_s))})
    return encode_packet(pkt)


__all__ = ["Hj212Session", "interval_command", "qn_time"]
