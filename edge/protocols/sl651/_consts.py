"""Codes of SL 651-2014 HEX/BCD frames."""

from __future__ import annotations

from datetime import timedelta, timezone
from enum import IntEnum

#: Times inside frames are China local time.
CHINA_TZ = timezone(timedelta(hours=8))

SYNC = b"\x7e\x7e"
HEADER_LEN = 14  # 7E 7E, 6 address bytes, password 2, function 1, direction+length 2, start 1
MAX_BODY = 0x0FFF  # the length field has 12 bits
STX = 0x02  # single-packet start char
SYN = 0x16  # multi-packet start char, followed by 3 packet-count bytes


class FunctionCode(IntEnum):
    KEEPALIVE = 0x2F
    TEST = 0x30
    UNIFORM_INTERVAL = 0x31
    TIMED = 0x32
    EXTRA = 0x33
    HOURLY = 0x34
    MANUAL = 0x35
    IMAGE = 0x36
    QUERY_REALTIME = 0x37
    QUERY_PERIOD = 0x38
    QUERY_MANUAL = 0x39
    QUERY_ELEMENTS = 0x3A
    QUERY_STATUS = 0x46


class EndChar(IntEnum):
    ETX = 0x03  # up: last packet / single frame
    ETB = 0x17  # up: more packets follow
    EOT = 0x04  # down: done, the unit may go offline
    ENQ = 0x05  # down: query / command
    ACK = 0x06  # down: packet received, continue
    NAK = 0x15  # down: resend
    ESC = 0x1B  # down: done, stay online


UP_ENDS = frozenset({EndChar.ETX, EndChar.ETB})
DOWN_ENDS = frozenset({EndChar.EOT, EndChar.ENQ, EndChar.ACK, EndChar.NAK, EndChar.ESC})

#: 2F..51 are defined by the standard, E0..EF are reserved for user extensions.
KNOWN_FUNCTIONS = frozenset(range(0x2F, 0x52)) | frozenset(range(0xE0, 0xF0))
#: Up-link bodies laid out as elements (identifier, definition byte, value) after serial+time.
ELEMENT_FUNCTIONS = frozenset(range(0x30, 0x3B)) | {0x46}
#: Bodies where F1F1 + station is followed by the station class byte.
CLASS_FUNCTIONS = frozenset(range(0x30, 0x3B))
#: Bodies where a 04 time step introduces identifiers-then-values series.
SERIES_FUNCTIONS = frozenset({0x31, 0x38})


class ElementId(IntEnum):
    TIME_STEP = 0x04
    DISCHARGE = 0x27
    VOLTAGE = 0x38
    STAGE = 0x39
    STATUS = 0x45
    OBS_TIME = 0xF0
    STATION = 0xF1
    MANUAL_TEXT = 0xF2
    IMAGE = 0xF3
    RAIN_5MIN = 0xF4


#: Station class codes (second part of the F1 element).
STATION_CLASSES = {
    0x50: "rain", 0x48: "river", 0x4B: "reservoir", 0x5A: "gate", 0x44: "pump",
    0x54: "tide", 0x4D: "soil", 0x47: "groundwater", 0x51: "quality", 0x49: "intake",
    0x4F: "outfall",
}

#: Element identifier -> (definition byte) the encoder uses.
DEFINITIONS = {ElementId.STAGE: 0x23, ElementId.DISCHARGE: 0x2B, ElementId.VOLTAGE: 0x12}
#: Observation names used by :func:`observations` and the encoder.
NAMES = {ElementId.STAGE: "stage", ElementId.DISCHARGE: "discharge", ElementId.VOLTAGE: "voltage"}
IDS_BY_NAME = {name: ident for ident, name in NAMES.items()}
