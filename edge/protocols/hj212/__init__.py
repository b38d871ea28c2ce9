"""HJ 212-2017 codec (also HJ/T 212-2005 and HJ 212-2025 packets): pure Python, no I/O.

Decode one frame with :func:`decode_packet` or a TCP byte stream with :class:`StreamDecoder`;
merge split uploads with :class:`Reassembler`; turn data uploads into canonical readings with
:func:`to_readings` and a per-device :class:`FactorMap`. Play a data logger with
:func:`build_upload` / :func:`encode_upload`, answer one with :func:`build_data_reply`,
:func:`build_request_reply` and :func:`build_exec_reply` (and :func:`build_notify_reply`,
:func:`build_heartbeat_reply`), then :func:`encode_packet`. Command a logger with
:func:`build_history_request`, :func:`build_realtime_request`, :func:`build_status_request`,
:func:`build_set_time` or :func:`build_command`.
"""

from ._builders import (
    STANDARD_MAX_LENGTH,
    FactorSpec,
    build_data_reply,
    build_exec_reply,
    build_heartbeat_reply,
    build_notify_reply,
    build_request_reply,
    build_upload,
    encode_upload,
    make_qn,
    qn_rtn_for,
)
from ._commands import (
    HISTORY_CNS,
    build_command,
    build_history_request,
    build_realtime_request,
    build_set_time,
    build_status_request,
)
from ._crc import crc16, swap_bytes
from ._errors import DecodeError, Reason
from ._frame import DEFAULT_MAX_LENGTH, decode_packet, encode_packet
from ._model import (
    CN,
    CST,
    DATA_FLAGS,
    FLAG_ACK,
    FLAG_SPLIT,
    KNOWN_CNS,
    MAX_MN_LENGTH,
    VERSION_2005,
    VERSION_2017,
    VERSION_2025,
    ExeRtn,
    Factor,
    Packet,
    QnRtn,
    make_flag,
)
from ._readings import DEFAULT_FACTOR_MAP, DEFAULT_FACTOR_NAMES, FactorMap, Reading, to_readings
from ._reassembly import Reassembler, ReassemblerStats, merge_parts
from ._segment import format_data_time, parse_data_time
from ._stream import DecoderStats, StreamDecoder

__all__ = [
    "CN",
    "CST",
    "DATA_FLAGS",
    "DEFAULT_FACTOR_MAP",
    "DEFAULT_FACTOR_NAMES",
    "DEFAULT_MAX_LENGTH",
    "FLAG_ACK",
    "FLAG_SPLIT",
    "HISTORY_CNS",
    "KNOWN_CNS",
    "MAX_MN_LENGTH",
    "STANDARD_MAX_LENGTH",
    "VERSION_2005",
    "VERSION_2017",
    "VERSION_2025",
    "DecodeError",
    "DecoderStats",
    "ExeRtn",
    "Factor",
    "FactorMap",
    "FactorSpec",
    "Packet",
    "QnRtn",
    "Reading",
    "Reason",
    "Reassembler",
    "ReassemblerStats",
    "StreamDecoder",
    "build_command",
    "build_data_reply",
    "build_exec_reply",
    "build_heartbeat_reply",
    "build_history_request",
    "build_notify_reply",
    "build_realtime_request",
    "build_request_reply",
    "build_set_time",
    "build_status_request",
    "build_upload",
    "crc16",
    "decode_packet",
    "encode_packet",
    "encode_upload",
    "format_data_time",
    "make_flag",
    "make_qn",
    "merge_parts",
    "parse_data_time",
    "qn_rtn_for",
    "swap_bytes",
    "to_readings",
]
