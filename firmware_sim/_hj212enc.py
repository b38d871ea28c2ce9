"""Fast HJ 212 upload frames for the simulated loggers.

Data uploads are formatted from a per-device template with %-formatting and framed with the
codec's own CRC (:func:`edge.protocols.hj212.crc16`); tests check every frame decodes to what
:func:`edge.protocols.hj212.build_upload` would carry. Replies and rare packets go through the
codec's builders. Packet faults (bad or swapped CRC, malformed body, oversize) are made here.
"""
from __future__ import annotations

import time

from edge.protocols.hj212 import crc16, make_flag, swap_bytes

from ._stations import DECIMALS

FIELDS = {"2011": ("Rtd",), "2051": ("Min", "Avg", "Max"), "2061": ("Min", "Avg", "Max"),
          "2031": ("Min", "Avg", "Max")}


def local_stamp(t: float) -> str:
    """Epoch seconds -> yyyyMMddHHmmss in UTC+8."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(int(t) + 28800))


def qn_of(t: float) -> str:
    return local_stamp(t) + "%03d" % (int(t * 1000) % 1000)


def frame(segment: str, fault: str | None = None) -> bytes:
    """Data segment -> ``##LLLL...CCCC\\r\\n`` (optionally with a CRC fault)."""
    raw = segment.encode("utf-8")
    crc = crc16(raw)
    if fault == "bad_crc":
        crc ^= 0x0F0F if swap_bytes(crc ^ 0x0F0F) != crc else 0x1234
    elif fault == "swapped_crc":
        crc = swap_bytes(crc)
    return b"##%04d%s%04X\r\n" % (len(raw), raw, crc)


class UploadEncoder:
    """Per-device data-upload encoder (2011 / 2051 / 2061 / 2031)."""

    def __init__(self, mn: str, params: tuple[str, ...], codes: dict[str, str], *,
                 pw: str = "123456", st: str = "22") -> None:
        self.mn, self.pw, self.st = mn, pw, st
        self.params = params
        self.codes = [codes[p] for p in params]
        self.fmts = ["%%.%df" % DECIMALS.get(p, 2) for p in params]
        self.flag_plain = make_flag(ack=False)
        self.flag_ack = make_flag(ack=True)

    def segment(self, cn: str, t_data: float, qn: str, rows: dict[str, list], flags: list[str],
                ack: bool, extra: str = "") -> str:
        """``rows`` maps a field (Rtd, Min, Avg, Max) to a list of values (None = no value)."""
        fields = FIELDS[cn]
        groups = []
        for i, code in enumerate(self.codes):
            fmt = self.fmts[i]
            items = []
            for name in fields:
                v = rows[name][i]
                items.append(f"{code}-{name}=" + ("" if v is None else fmt % v))
            items.append(f"{code}-Flag={flags[i]}")
            groups.append(",".join(items))
        flag = self.flag_ack if ack else self.flag_plain
        return (f"QN={qn};ST={self.st};CN={cn};PW={self.pw};MN={self.mn};Flag={flag};"
                f"CP=&&DataTime={local_stamp(t_data)};{';'.join(groups)}{extra}&&")

    def upload(self, cn: str, t_data: float, t_qn: float, rows: dict[str, list],
               flags: list[str], *, ack: bool = False, fault: str | None = None) -> bytes:
        extra = _padding() if fault == "oversize" else ""
        seg = self.segment(cn, t_data, qn_of(t_qn), rows, flags, ack, extra)
        if fault == "malformed":
            seg = _malform(seg)
        return frame(seg, fault if fault in ("bad_crc", "swapped_crc") else None)

    def realtime(self, t: float, values: list, flags: list[str], fault: str | None = None
                 ) -> bytes:
        """The hot path: one 2011 frame."""
        if fault is None:
            qn = qn_of(t)
            body = ";".join(
                f"{code}-Rtd={'' if v is None else fmt % v},{code}-Flag={fl}"
                for code, fmt, v, fl in zip(self.codes, self.fmts, values, flags))
            seg = (f"QN={qn};ST={self.st};CN=2011;PW={self.pw};MN={self.mn};"
                   f"Flag={self.flag_plain};CP=&&DataTime={qn[:14]};{body}&&")
            raw = seg.encode()
            return b"##%04d%s%04X\r\n" % (len(raw), raw, crc16(raw))
        return self.upload("2011", t, t, {"Rtd": values}, flags, fault=fault)


def _padding() -> str:
    """Extra vendor factors that push the data segment well past the standard's 1024 chars."""
    return "".join(f";a99{n:03d}-Rtd=0.000,a99{n:03d}-Flag=N,a99{n:03d}-Info=PADDING{n:03d}"
                   for n in range(30))


def _malform(segment: str) -> str:
    """Break the CP body: drop the '=' of the first factor field (as one buggy logger does)."""
    at = segment.find("-", segment.find("DataTime="))
    eq = segment.find("=", at)
    return segment[:eq] + segment[eq + 1 :]
