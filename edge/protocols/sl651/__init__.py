"""SL 651-2014 (hydrological telemetry) HEX/BCD codec, pure Python.

Decode: :func:`decode_frame` (one frame, raises :class:`FrameError`), :class:`StreamDecoder`
(TCP byte stream, returns frames and errors), :class:`Reassembler` (multi-packet messages),
:func:`observations` (stage/discharge/voltage per time). Encode: :func:`encode_up` (telemetry
unit side), :func:`encode_down`, :func:`ack`, :func:`encode_query_realtime` (37) and
:func:`encode_query_period` (38) (platform side). See README.md.
"""

from ._consts import CHINA_TZ, ElementId, EndChar, FunctionCode
from ._crc import crc16_modbus
from ._encode import (
    QUERY_ELEMENTS,
    ack,
    build_frame,
    encode_down,
    encode_query_period,
    encode_query_realtime,
    encode_up,
)
from ._errors import EncodeError, FrameError, Reason, Sl651Error
from ._frame import decode_frame
from ._model import Element, Frame
from ._observations import INVALID_FLAG, observations
from ._reassembly import Reassembler
from ._stream import DEFAULT_IDLE_TIMEOUT, StreamDecoder

__all__ = [
    "CHINA_TZ",
    "DEFAULT_IDLE_TIMEOUT",
    "INVALID_FLAG",
    "QUERY_ELEMENTS",
    "Element",
    "ElementId",
    "EncodeError",
    "EndChar",
    "Frame",
    "FrameError",
    "FunctionCode",
    "Reason",
    "Reassembler",
    "Sl651Error",
    "StreamDecoder",
    "ack",
    "build_frame",
    "crc16_modbus",
    "decode_frame",
    "encode_down",
    "encode_query_period",
    "encode_query_realtime",
    "encode_up",
    "observations",
]
