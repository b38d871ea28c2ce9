"""One HJ 212 TCP connection, sans I/O: bytes in, replies out.

Replies: 9014 to a stored upload whose Flag asked for one (after the durable write); 9011 with
the protocol's ``QnRtn`` to a refused packet (4 unknown MN, 3 bad PW, 9 CRC error, 8 unknown CN,
...) whenever the packet was readable enough to answer. Unreadable frames are dropped. Every
outcome is counted (``errors.<reason>``, ``unknown_device``, ``bad_password``, ``crc_errors``).
Split uploads are acknowledged part by part once the reassembled reading is stored.
"""
from __future__ import annotations

import logging
from datetime import datetime

from edge.protocols.hj212 import (CST, DecodeError, Packet, QnRtn, Reassembler, StreamDecoder,
                                  build_data_reply, build_request_reply, encode_packet,
                                  qn_rtn_for, to_readings)

from ._devices import Device
from ._qc import RawReading
from ._sink import Sink
from ._stats import RateLimitedLog, Stats

log = logging.getLogger(__name__)
_DATA_CNS = frozenset({"2011", "2051", "2061", "2031"})
_MAX_HELD = 256


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
                 max_length: int = 4096) -> None:
        swapped = frozenset(mn for mn, d in devices.items() if d.config.crc_swapped_ok)
        self._devices, self._sink, self._stats = devices, sink, stats
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

    def _packet(self, pkt: Packet) -> list[bytes]:
        self._stats.inc("packets")
        if pkt.st == "91":  # a device's answer to one of our commands
            self._stats.inc("device_replies")
            return []
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
        parts = self._collect(pkt)
        if parts is None:
            return []
        merged = self._reassembler.add(pkt) if pkt.is_split else pkt
        if merged is None:  # cannot happen when _collect says complete; be safe
            return []
        if merged.cn in _DATA_CNS and not self._store(dev, merged):
            return []  # not stored (queue full, reject_new): no answer, the logger resends
        if merged.cn not in _DATA_CNS:
            self._stats.inc(f"ignored_cn.{merged.cn}", station=station)
        return [encode_packet(build_data_reply(p)) for p in parts if p.ack_requested]

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

    def _store(self, dev: Device, pkt: Packet) -> bool:
        station = dev.station.id
        readings = to_readings(pkt, dev.factor_map, minute_period=dev.config.minute_period)
        raws = []
        for r in readings:
            if r.unknown_factors:
                self._stats.inc("unknown_factors", len(r.unknown_factors), station=station)
            raws.append(RawReading(station, r.ts, r.period, r.values, r.flags,
                                   sent=qn_time(pkt.qn)))
        return self._sink.submit(raws) if raws else True


def interval_command(last: Packet, interval_s: int, now: datetime) -> bytes:
    """CN=1062 (set real-time data interval) to a logger, addressed like its last packet."""
    from edge.protocols.hj212 import make_flag, make_qn
    pkt = Packet(last.st, "1062", last.mn, last.pw, make_qn(now),
                 None if last.flag is None else make_flag(ack=True, version=last.version),
                 cp={"RtdInterval": str(int(interval_s))})
    return encode_packet(pkt)


__all__ = ["Hj212Session", "interval_command", "qn_time"]
