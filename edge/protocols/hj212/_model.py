"""Data model of an HJ 212 packet: header, CP body, factors, command and return codes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import IntEnum

#: DataTime and QN are local time in China (UTC+8, no DST).
CST = timezone(timedelta(hours=8), "UTC+08:00")

VERSION_2005 = 0  # legacy HJ/T 212-2005 (Flag 0/1 or no Flag)
VERSION_2017 = 1  # Flag 4/5, 6/7 when split
VERSION_2025 = 2  # Flag 8/9

FLAG_ACK = 0x01  # bit0: answer requested
FLAG_SPLIT = 0x02  # bit1: split packet (PNUM/PNO present)

ST_REPLY = "91"

#: HJ 212-2017: the MN (device id) has at most 24 characters.
MAX_MN_LENGTH = 24

#: CP keys holding a yyyyMMddHHmmss time besides DataTime: history request range (2031/2041/
#: 2051/2061 from the platform) and the set-time command's new clock (1012).
TIME_KEYS = frozenset({"BeginTime", "EndTime", "SystemTime"})


class CN:
    """Command codes this codec knows by name."""

    SET_TIMEOUT = "1000"
    GET_TIME = "1011"
    SET_TIME = "1012"
    TIME_CALIBRATION = "1013"
    SET_RTD_INTERVAL = "1062"
    RTD_DATA = "2011"
    STOP_RTD = "2012"
    EQUIPMENT_STATUS = "2021"
    DAY_DATA = "2031"
    MINUTE_DATA = "2051"
    HOUR_DATA = "2061"
    REQUEST_ANSWER = "9011"
    EXECUTION_RESULT = "9012"
    NOTIFY_ANSWER = "9013"
    DATA_ANSWER = "9014"
    HEARTBEAT = "9015"  # HJ 212-2025


#: Every CN of HJ 212-2017 plus the HJ 212-2025 additions (1001, 1002, 1014, 9015).
KNOWN_CNS = frozenset(
    "1000 1001 1002 1011 1012 1013 1014 1061 1062 1063 1064 1072 "
    "2011 2012 2021 2022 2031 2041 2051 2061 2081 "
    "3011 3012 3013 3014 3015 3016 3017 3018 3019 3020 3021 "
    "9011 9012 9013 9014 9015".split()
)

#: Upload commands carrying pollutant data, with the value field to_readings uses.
DATA_CNS = {"2011": "Rtd", "2051": "Avg", "2061": "Avg", "2031": "Avg"}

#: Factor fields holding numbers (decoded to float); others stay text in Factor.extra.
NUMERIC_FIELDS = frozenset(
    "Rtd Avg Min Max Cou ZsRtd ZsAvg ZsMin ZsMax RS RT Ala UpValue LowValue".split()
)

#: HJ 212 data flags: N normal, F stopped, M maintenance, S set manually, D fault,
#: C calibration, T above range, B logger communication fault.
DATA_FLAGS = frozenset("NFMSDCTB")


class QnRtn(IntEnum):
    """9011 request answer codes."""

    READY = 1
    REJECTED = 2
    BAD_PW = 3
    BAD_MN = 4
    BAD_ST = 5
    BAD_FLAG = 6
    BAD_QN = 7
    BAD_CN = 8
    CRC_ERROR = 9
    UNKNOWN = 100


class ExeRtn(IntEnum):
    """9012 execution result codes."""

    SUCCESS = 1
    FAILED = 2
    BAD_CONDITION = 3
    TIMEOUT = 4
    BUSY = 5
    SYSTEM_FAULT = 6
    NO_DATA = 100


def make_flag(*, ack: bool = False, split: bool = False, version: int = VERSION_2017) -> int:
    """Flag value: version in bits 2-7, bit1 split, bit0 answer requested."""
    return (version << 2) | (FLAG_SPLIT if split else 0) | (FLAG_ACK if ack else 0)


@dataclass(slots=True)
class Factor:
    """One factor (pollutant / parameter) of a CP body, e.g. ``a34004-Avg=14,a34004-Flag=N``."""

    code: str
    values: dict[str, float] = field(default_factory=dict)  # "Rtd", "Avg", "Min", ...
    flag: str | None = None  # "N", "D", ... (None when the packet carries none)
    extra: dict[str, str] = field(default_factory=dict)  # SampleTime, EFlag, Info ...

    @property
    def rtd(self) -> float | None:
        return self.values.get("Rtd")

    @property
    def avg(self) -> float | None:
        return self.values.get("Avg")

    @property
    def min(self) -> float | None:
        return self.values.get("Min")

    @property
    def max(self) -> float | None:
        return self.values.get("Max")

    @property
    def cou(self) -> float | None:
        return self.values.get("Cou")


@dataclass(slots=True)
class Packet:
    """A decoded (or to-be-encoded) HJ 212 packet.

    ``cp`` holds the CP keys that are not factors (``QnRtn``, ``ExeRtn``, ``RtdInterval``...);
    ``data_time`` is the CP ``DataTime`` as an aware datetime in UTC+8.
    ``header_extra`` keeps unknown header keys. ``crc_swapped`` is True when the packet was
    accepted with a byte-swapped CRC under a per-device tolerance. ``duplicates`` counts keys
    the device sent twice with the same value (tolerated; a different value is refused).
    """

    st: str
    cn: str
    mn: str
    pw: str = ""
    qn: str | None = None
    flag: int | None = None
    pnum: int | None = None
    pno: int | None = None
    data_time: datetime | None = None
    cp: dict[str, str] = field(default_factory=dict)
    factors: dict[str, Factor] = field(default_factory=dict)
    header_extra: dict[str, str] = field(default_factory=dict)
    crc_swapped: bool = False
    duplicates: int = field(default=0, compare=False)

    @property
    def is_upload(self) -> bool:
        """Carries data (factors or DataTime); False for commands such as a history request."""
        return bool(self.factors) or self.data_time is not None

    @property
    def begin_time(self) -> datetime | None:
        """CP ``BeginTime`` of a history request (aware, UTC+8); None when absent."""
        return _cp_time(self.cp.get("BeginTime"))

    @property
    def end_time(self) -> datetime | None:
        """CP ``EndTime`` of a history request (aware, UTC+8); None when absent."""
        return _cp_time(self.cp.get("EndTime"))

    @property
    def system_time(self) -> datetime | None:
        """CP ``SystemTime`` of a set-time command (1012) or a time reply; None when absent."""
        return _cp_time(self.cp.get("SystemTime"))

    @property
    def ack_requested(self) -> bool:
        return self.flag is not None and bool(self.flag & FLAG_ACK)

    @property
    def is_split(self) -> bool:
        return self.pnum is not None and self.pnum > 1

    @property
    def version(self) -> int:
        """Flag version bits (0 = 2005-era or no Flag, 1 = 2017, 2 = 2025)."""
        return 0 if self.flag is None else self.flag >> 2


def _cp_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    from ._segment import parse_data_time  # the segment module imports this one

    return parse_data_time(text)
