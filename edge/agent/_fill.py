"""Gap-fill requests (反控补数) from the ingest, turned into the logger's own history requests.

The ingest publishes ``{"v": 1, "id": ..., "station": ..., "period": "PT1H", "start": ISO,
"end": ISO, "attempt": n}`` on ``fenwei/v1/{city}/{kind}/{station}/fill`` (QoS 1; ``start`` and
``end`` are the first and last missing slots, inclusive). The agent asks the station's device
over its open connection:

* HJ 212: CN 2061 (PT1H), 2051 (the device's minute period) or 2031 (P1D) with
  ``BeginTime``/``EndTime`` (local time); the logger answers 9011, sends the periods as
  uploads, then 9012;
* SL 651: one function 38 query per element (stage, discharge) with start and end hour,
  time step and element identifier; the unit answers with 38 series frames.

What arrives goes the normal way (QC, disk queue, publish); the ingest de-duplicates. A request
repeated with the same id and attempt (an MQTT redelivery) is done once.
"""
from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta, timezone

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.wire import parse_period
from edge.protocols.hj212 import Packet, build_history_request, build_set_time, encode_packet
from edge.protocols.sl651 import CHINA_TZ, encode_query_period

#: SL 651 elements a gap fill asks for with 38 queries (one query per element)
QUERY_ELEMENTS = ("stage", "discharge")
_SEEN = 1024


class FillRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    v: int = 1
    id: str = Field(min_length=1, max_length=200)
    station: str
    period: str
    start: datetime
    end: datetime
    attempt: int = Field(1, ge=1)

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("times need an explicit offset")
        return v.astimezone(timezone.utc)

    @property
    def period_s(self) -> int:
        parsed = parse_period(self.period)
        if parsed is None:
            raise ValueError(f"unsupported period {self.period!r}")
        return parsed[1]


class Seen:
    """Request (id, attempt) pairs already done (bounded, oldest forgotten first)."""

    def __init__(self, size: int = _SEEN) -> None:
        self._d: OrderedDict = OrderedDict()
        self._size = size

    def first(self, key) -> bool:
        if key in self._d:
            return False
        self._d[key] = True
        while len(self._d) > self._size:
            self._d.popitem(last=False)
        return True


def hj212_cn(period: str, minute_period: str) -> str | None:
    """The history CN for a series period: 2061 hourly, 2031 daily, 2051 minute data."""
    if period == "PT1H":
        return "2061"
    if period == "P1D":
        return "2031"
    return "2051" if period == minute_period else None


def _options(last: Packet, password: str | None) -> dict:
    """Address a command like the logger's last packet: its ST, PW and Flag version."""
    return {"st": last.st, "pw": password if password is not None else last.pw,
            "version": None if last.flag is None else last.version}


def hj212_history_request(last: Packet, cn: str, start: datetime, end: datetime,
                          now: datetime, password: str | None) -> Packet:
    """A CN 2051/2061/2031 history request (BeginTime/EndTime) to the logger of ``last``."""
    return build_history_request(cn, last.mn, start, end, qn=now, **_options(last, password))


def hj212_set_time(last: Packet, now: datetime, password: str | None) -> Packet:
    """CN 1012 (set the logger's system time) to ``now``."""
    return build_set_time(last.mn, now, qn=now, **_options(last, password))


def sl651_period_query(address: str, *, centre: int, password: int, start: datetime,
                       end: datetime, step_s: int, element: str, now: datetime) -> bytes:
    """A function 38 query for one element, ``start``..``end`` rounded out to whole hours."""
    return encode_query_period(address, sent=now.astimezone(CHINA_TZ), begin=hour_floor(start),
                               end=hour_ceil(end), step=timedelta(seconds=step_s),
                               element=element, centre=centre, password=password)


def hour_floor(t: datetime) -> datetime:
    t = t.astimezone(CHINA_TZ)
    return t.replace(minute=0, second=0, microsecond=0)


def hour_ceil(t: datetime) -> datetime:
    f = hour_floor(t)
    return f if f == t else f + timedelta(hours=1)


__all__ = ["FillRequest", "Seen", "hj212_cn", "hj212_history_request",
           "hj212_set_time", "sl651_period_query", "encode_packet"]
