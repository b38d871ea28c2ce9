"""One SL 651 TCP connection, sans I/O: bytes in, platform answers out.

Answers follow the codec's platform policy (:func:`edge.protocols.sl651.ack`): a packet that
says more follows gets ACK 06 at once (the unit needs it to go on); a complete report gets EOT
04 only after its readings are stored durably; keep-alives are not answered. SL 651 has no
error reply, so refused frames (unknown station address, wrong password, bad CRC, ...) get no
answer (the unit resends) and are counted with their reason.

``units`` keeps the last frame of each unit on this connection, so that the agent can address
a 38 period query to it (gap filling, ``_fill.py``); the unit's 38 answers are readings like
any report. An impossible observation time (before 2000, or a day ahead) is moved, with the
frame's other times, so that its latest lands on the station's reporting grid (an hourly
report at the top of the hour that began) rather than at the arrival instant.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Callable

from edge.protocols.sl651 import (EndChar, Frame, FrameError, FunctionCode, Reassembler,
                                  StreamDecoder, ack, observations)

from ._clocks import impossible, instant_grid, regrid
from ._devices import Device
from ._qc import RawReading
from ._sink import Sink
from ._stats import RateLimitedLog, Stats

log = logging.getLogger(__name__)


class Sl651Session:
    def __init__(self, devices: dict[str, Device], sink: Sink, stats: Stats, *,
                 clock: Callable[[], float]) -> None:
        self._devices, self._sink, self._stats, self._clock = devices, sink, stats, clock
        self._decoder = StreamDecoder()
        self._reassembler = Reassembler()
        self._rlog = RateLimitedLog(log)
        self.units: dict[str, Frame] = {}   # station address -> its last accepted frame

    def feed(self, data: bytes) -> list[bytes]:
        return self._handle_all(self._decoder.feed(data))

    def close(self) -> list[bytes]:
        return self._handle_all(self._decoder.flush())

    #: the listener calls :meth:`poll` after this many seconds without bytes
    poll_s = 1.0

    def poll(self) -> list[bytes]:
        """Idle: a frame held back for bytes that never came is given up after the codec's
        idle timeout, so that what follows it is decoded (and counted ``errors.truncated``)."""
        return self._handle_all(self._decoder.poll())

    def _handle_all(self, items) -> list[bytes]:
        replies: list[bytes] = []
        for item in items:
            try:
                replies += self._handle(item)
            except Exception:  # noqa: BLE001 - one bad frame must not end the connection
                log.exception("SL 651: unexpected error handling a frame")
                self._stats.inc("errors.internal")
        return replies

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), timezone.utc)

    def _refused(self, err: FrameError) -> list[bytes]:
        reason = err.reason.value
        self._stats.inc(f"errors.{reason}")
        dev = self._devices.get(err.station or "")
        if reason == "bad_crc":
            self._stats.inc("crc_errors", station=dev.station.id if dev else None)
        self._stats.inc("dropped_frames")
        self._rlog.warning(f"sl651:{reason}", "SL 651 frame dropped (%s): %s", reason, err.detail)
        return []

    def _handle(self, item: Frame | FrameError) -> list[bytes]:
        if isinstance(item, FrameError):
            return self._refused(item)
        self._stats.inc("packets")
        if not item.up:
            self._stats.inc("errors.downlink")
            return []
        dev = self._devices.get(item.station)
        if dev is None:
            self._stats.inc("unknown_device")
            self._rlog.warning(f"addr:{item.station}", "SL 651: unknown station address %s "
                               "refused (not answered)", item.station)
            return []
        if dev.config.password is not None and item.password != int(dev.config.password, 16):
            self._stats.inc("bad_password", station=dev.station.id)
            self._rlog.warning(f"pw:{item.station}", "SL 651: bad password from %s",
                               item.station)
            return []
        self.units[item.station] = item
        replies = []
        if item.packets is not None and item.end == EndChar.ETB:
            replies.append(ack(item, sent=self._now(), serial=item.serial))
        for out in self._reassembler.add(item):
            if isinstance(out, FrameError):
                replies += self._refused(out)
            else:
                replies += self._complete(dev, out)
        return [r for r in replies if r]

    def _complete(self, dev: Device, frame: Frame) -> list[bytes]:
        if frame.function == FunctionCode.KEEPALIVE:
            self._stats.inc("keepalives", station=dev.station.id)
            return []
        raws = self._readings(dev, frame)
        if raws and not self._sink.submit(raws):
            return []
        reply = ack(frame, sent=self._now())
        return [reply] if reply else []

    def _readings(self, dev: Device, frame: Frame) -> list[RawReading]:
        out = []
        obs_list = observations(frame)
        now = self._clock()
        if obs_list and any(impossible(o["ts"].timestamp(), now) for o in obs_list):
            grid = instant_grid(now, dev.station.interval_s)
            times = regrid([o["ts"] for o in obs_list], grid)
            self._stats.inc("clock.ts_on_grid", station=dev.station.id)
            self._rlog.warning(f"grid:{dev.station.id}", "station %s: impossible observation "
                               "time %s placed at %s on its reporting grid", dev.station.id,
                               obs_list[-1]["ts"].isoformat(), times[-1].isoformat())
            for o, t in zip(obs_list, times):
                o["ts"] = t
            frame_sent = None                    # the send time comes from the same clock
        else:
            frame_sent = frame.sent
        for obs in obs_list:
            values, flags = {}, {}
            for name, v in obs["values"].items():
                entry = dev.factor_map.get(name)
                if entry is not None:
                    values[entry[0]] = v if entry[1] == 1.0 else float(f"{v * entry[1]:.12g}")
            for name, f in obs["flags"].items():
                entry = dev.factor_map.get(name)
                if entry is not None:
                    flags[entry[0]] = f
            if values or flags:
                out.append(RawReading(dev.station.id, obs["ts"], obs.get("period", "PT0S"),
                                      values, flags,
                                      sent=frame_sent))
        return out
