"""Building packets: data uploads (as a data logger) and the platform's replies (ST=91)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Union

from ._errors import DecodeError, Reason
from ._frame import encode_packet
from ._model import (CN, CST, NUMERIC_FIELDS, ST_REPLY, VERSION_2017, ExeRtn, Factor, Packet,
                     QnRtn, make_flag)
from ._segment import format_factor, format_number, format_segment

Number = Union[float, int, str]
#: value | (value, flag) | {"Avg": v, "Min": v, "Max": v, "Cou": v, "Flag": "N", ...} | Factor
FactorSpec = Union[Number, tuple[Number, str], Mapping[str, Number], Factor]

STANDARD_MAX_LENGTH = 1024
_PART_HEADER = len(";PNUM=9999;PNO=9999")


def make_qn(when: datetime) -> str:
    """QN (request id) for a moment: ``yyyyMMddHHmmssSSS`` local time (UTC+8)."""
    if when.tzinfo is not None:
        when = when.astimezone(CST)
    return when.strftime("%Y%m%d%H%M%S") + f"{when.microsecond // 1000:03d}"


def build_upload(
    cn: str,
    mn: str,
    data_time: datetime,
    factors: Mapping[str, FactorSpec],
    *,
    st: str = "22",
    pw: str = "123456",
    qn: datetime | str | None = None,
    ack: bool = False,
    version: int | None = VERSION_2017,
    max_length: int = STANDARD_MAX_LENGTH,
) -> list[Packet]:
    """A data upload (2011 -Rtd, 2051/2061/2031 -Avg, 2021 -RS), split into parts if too long.

    ``qn`` defaults to ``data_time``; split parts get consecutive milliseconds as the standard's
    example does. ``version=None`` plays a 2005-era logger (no Flag).
    """
    field = {"2011": "Rtd", "2021": "RS"}.get(cn, "Avg")
    flag = None if version is None else make_flag(ack=ack, version=version)
    packet = Packet(st, cn, mn, pw, None, flag, data_time=data_time,
                    factors={code: _factor(code, spec, field) for code, spec in factors.items()})
    qn = data_time if qn is None else qn
    packet.qn = qn if isinstance(qn, str) else make_qn(qn)
    if len(format_segment(packet).encode()) <= max_length:
        return [packet]
    return _split(packet, qn, max_length)


def encode_upload(*args, **kwargs) -> bytes:
    """:func:`build_upload` then :func:`encode_packet` on every part, concatenated."""
    return b"".join(encode_packet(p) for p in build_upload(*args, **kwargs))


def _factor(code: str, spec: FactorSpec, field: str) -> Factor:
    if isinstance(spec, Factor):
        return spec
    if isinstance(spec, tuple):
        value, flag = spec
        return Factor(code, {field: _value(value)}, flag)
    if isinstance(spec, Mapping):
        factor = Factor(code, flag=spec.get("Flag"))
        for name, value in spec.items():
            if name in NUMERIC_FIELDS:
                factor.values[name] = _value(value)
            elif name != "Flag":
                factor.extra[name] = str(value)
        return factor
    return Factor(code, {field: _value(spec)})


def _value(value: Number) -> float:
    if isinstance(value, str):
        return float(format_number(value))  # validates numeric text
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"HJ 212 cannot carry {value!r}")
    return value


def _split(packet: Packet, qn: datetime | str, max_length: int) -> list[Packet]:
    bare = Packet(packet.st, packet.cn, packet.mn, packet.pw, packet.qn, packet.flag,
                  data_time=packet.data_time)
    room = max_length - len(format_segment(bare).encode()) - _PART_HEADER
    chunks: list[dict[str, Factor]] = [{}]
    used = 0
    for code, factor in packet.factors.items():
        size = len(format_factor(factor).encode()) + 1
        if size > room:
            raise ValueError(f"factor {code} alone does not fit in {max_length} characters")
        if used + size > room:
            chunks.append({})
            used = 0
        chunks[-1][code] = factor
        used += size
    flag = (packet.flag or 0) | make_flag(split=True, version=0)
    return [Packet(packet.st, packet.cn, packet.mn, packet.pw, part_qn, flag, len(chunks), n,
                   data_time=packet.data_time, factors=chunk)
            for n, (part_qn, chunk) in enumerate(zip(_part_qns(qn, len(chunks)), chunks), 1)]


def _part_qns(qn: datetime | str, count: int) -> list[str]:
    if isinstance(qn, str):
        try:
            qn = datetime.strptime(qn[:14], "%Y%m%d%H%M%S").replace(
                microsecond=int(qn[14:17]) * 1000)
        except ValueError:
            return [qn] * count  # not a timestamp: all parts share it
    return [make_qn(qn + timedelta(milliseconds=n)) for n in range(count)]


def build_data_reply(packet: Packet) -> Packet:
    """9014 data answer to an upload whose Flag asked for one."""
    return _reply(packet, CN.DATA_ANSWER, {})


def build_request_reply(packet: Packet, qn_rtn: int = QnRtn.READY) -> Packet:
    """9011 request answer with ``QnRtn`` (see :class:`QnRtn`)."""
    return _reply(packet, CN.REQUEST_ANSWER, {"QnRtn": str(int(qn_rtn))})


def build_exec_reply(packet: Packet, exe_rtn: int = ExeRtn.SUCCESS) -> Packet:
    """9012 execution result with ``ExeRtn`` (see :class:`ExeRtn`)."""
    return _reply(packet, CN.EXECUTION_RESULT, {"ExeRtn": str(int(exe_rtn))})


def build_notify_reply(packet: Packet) -> Packet:
    """9013 notification answer (to a notification command whose Flag asked for one)."""
    return _reply(packet, CN.NOTIFY_ANSWER, {})


def build_heartbeat_reply(packet: Packet) -> Packet | None:
    """The answer to a 9015 heartbeat (HJ 212-2025), or None when none is due.

    A heartbeat is a notification: it is answered with 9013 (empty CP, the heartbeat's QN)
    only when its Flag asks for an answer (bit0, e.g. ``Flag=9``); otherwise nothing is sent.
    """
    if packet.cn != CN.HEARTBEAT:
        raise ValueError(f"CN={packet.cn} is not a heartbeat (9015)")
    return build_notify_reply(packet) if packet.ack_requested else None


def _reply(packet: Packet, cn: str, cp: dict[str, str]) -> Packet:
    flag = None if packet.flag is None else make_flag(version=packet.version)
    return Packet(ST_REPLY, cn, packet.mn, packet.pw, packet.qn, flag, cp=cp)


_QNRTN_BY_FIELD = {"PW": QnRtn.BAD_PW, "MN": QnRtn.BAD_MN, "ST": QnRtn.BAD_ST,
                   "Flag": QnRtn.BAD_FLAG, "QN": QnRtn.BAD_QN, "CN": QnRtn.BAD_CN}


def qn_rtn_for(error: DecodeError) -> QnRtn:
    """The 9011 ``QnRtn`` that answers a rejected frame (reply only if ``error.packet``)."""
    if error.reason == Reason.BAD_CRC:
        return QnRtn.CRC_ERROR
    if error.reason == Reason.UNKNOWN_CN:
        return QnRtn.BAD_CN
    return _QNRTN_BY_FIELD.get(error.field or "", QnRtn.UNKNOWN)
