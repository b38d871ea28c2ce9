"""The platform's commands to a data logger (HJ 212-2017 request and control commands).

Each builder returns a :class:`Packet` for :func:`encode_packet`. The QN is the request id the
logger echoes in its 9011 answer, in the data it uploads and in its 9012 result, so it is always
given by the caller (``datetime`` -> ``yyyyMMddHHmmssSSS`` UTC+8, or the text itself). Commands
carry the station's own system code (``st``) and by default Flag bit0 set, as the standard's
examples do (``Flag=5``): the logger first answers 9011 ``QnRtn``, then 9012 ``ExeRtn``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from ._builders import make_qn
from ._model import CN, VERSION_2017, Packet, make_flag
from ._segment import format_data_time

#: History requests: day data, daily facility run time, minute data, hour data.
HISTORY_CNS = frozenset({CN.DAY_DATA, "2041", CN.MINUTE_DATA, CN.HOUR_DATA})


def build_command(
    cn: str,
    mn: str,
    *,
    qn: datetime | str,
    cp: Mapping[str, str] | None = None,
    st: str = "22",
    pw: str = "123456",
    ack: bool = True,
    version: int | None = VERSION_2017,
) -> Packet:
    """Any platform command: ``cn`` to device ``mn`` with the CP keys in ``cp`` (in order).

    ``version=None`` addresses a 2005-era logger (no Flag).
    """
    flag = None if version is None else make_flag(ack=ack, version=version)
    return Packet(st, cn, mn, pw, qn if isinstance(qn, str) else make_qn(qn), flag,
                  cp=dict(cp or {}))


def build_history_request(
    cn: str, mn: str, begin: datetime, end: datetime, *, qn: datetime | str, **options
) -> Packet:
    """2061 hour / 2051 minute / 2031 day (/ 2041) history request for ``begin``..``end``.

    Times are sent as ``BeginTime``/``EndTime`` ``yyyyMMddHHmmss`` in UTC+8 (aware times are
    converted, naive ones taken as China time). The logger uploads the stored data with this QN.
    """
    if cn not in HISTORY_CNS:
        raise ValueError(f"CN={cn} is not a history request; use one of {sorted(HISTORY_CNS)}")
    first, last = format_data_time(begin), format_data_time(end)
    if first > last:
        raise ValueError(f"BeginTime {first} is after EndTime {last}")
    return build_command(cn, mn, qn=qn, cp={"BeginTime": first, "EndTime": last}, **options)


def build_realtime_request(mn: str, *, qn: datetime | str, **options) -> Packet:
    """2011 with an empty CP: start uploading real-time data (stop it with 2012)."""
    return build_command(CN.RTD_DATA, mn, qn=qn, **options)


def build_status_request(mn: str, *, qn: datetime | str, **options) -> Packet:
    """2021 with an empty CP: start uploading equipment running status."""
    return build_command(CN.EQUIPMENT_STATUS, mn, qn=qn, **options)


def build_set_time(
    mn: str, system_time: datetime, *, qn: datetime | str, pol_id: str | None = None, **options
) -> Packet:
    """1012 set the logger's clock to ``system_time`` (``SystemTime=yyyyMMddHHmmss`` UTC+8).

    ``pol_id`` addresses one instrument's clock (``PolId=a34004``) instead of the logger's.
    """
    cp = {} if pol_id is None else {"PolId": pol_id}
    cp["SystemTime"] = format_data_time(system_time)
    return build_command(CN.SET_TIME, mn, qn=qn, cp=cp, **options)
