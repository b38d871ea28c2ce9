"""Encoders: up-link reports for the telemetry-unit side, down-link frames and acks.

Ack policy (platform side), after SL 651-2014 and public servers (Quick.SL651,
sl651-2014-server): a 2F keep-alive is not answered; a packet that says more follows (ETB 17)
is answered ACK 06; a final frame (ETX 03) is answered EOT 04 (done, the unit may go offline)
or ESC 1B (done, stay online). The ack repeats the function code, password and serial of the
up-link frame, addresses are swapped (station first), and its send time is the caller's clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from ._bcd import encode_number, encode_step, encode_time
from ._consts import (
    DEFINITIONS, IDS_BY_NAME, MAX_BODY, STX, SYN, EndChar, ElementId, FunctionCode,
)
from ._crc import crc16_modbus
from ._errors import EncodeError
from ._model import Frame

UP_FUNCTIONS = frozenset({0x2F, 0x30, 0x31, 0x32, 0x33, 0x34, 0x37})


def _address(station: str) -> bytes:
    try:
        raw = bytes.fromhex(station)
    except ValueError as exc:
        raise EncodeError(f"station {station!r} is not hex") from exc
    if len(raw) != 5:
        raise EncodeError(f"station {station!r} must be 10 hex chars")
    return raw


def build_frame(
    *, up: bool, centre: int, station: str, password: int, function: int, body: bytes,
    end: int, packet: tuple[int, int] | None = None,
) -> bytes:
    """Assemble one frame; ``packet`` = (total, seq) makes it a multi-packet frame."""
    station_raw = _address(station)
    addresses = bytes([centre]) + station_raw if up else station_raw + bytes([centre])
    counter = b"" if packet is None else ((packet[0] << 12) | packet[1]).to_bytes(3, "big")
    length = len(body) + len(counter)
    if length > MAX_BODY:
        raise EncodeError(f"body of {length} bytes does not fit the 12-bit length field")
    frame = b"".join((
        b"\x7e\x7e", addresses, password.to_bytes(2, "big"), bytes([function]),
        ((0 if up else 0x8000) | length).to_bytes(2, "big"),
        bytes([STX if packet is None else SYN]), counter, body, bytes([end]),
    ))
    return frame + crc16_modbus(frame).to_bytes(2, "big")


def _element(name: str, value: float | None) -> bytes:
    ident = IDS_BY_NAME.get(name)
    if ident is None:
        raise EncodeError(f"unknown observation {name!r}; use {sorted(IDS_BY_NAME)}")
    definition = DEFINITIONS[ident]
    return bytes([ident, definition]) + encode_number(value, definition >> 3, definition & 7)


_CANONICAL = {"stage": 0, "discharge": 1, "voltage": 2}


def _series(series: Mapping[str, Sequence[float | None]], step: timedelta | None) -> bytes:
    if step is None:
        raise EncodeError("a uniform-interval (31) report needs a time step")
    names = sorted(series, key=lambda name: _CANONICAL.get(name, 9))  # stage/discharge first: see _series.py
    counts = {len(series[name]) for name in names}
    if len(counts) != 1 or 0 in counts:
        raise EncodeError("series must be non-empty and of equal length")
    idents = b"".join(_element(name, 0)[:2] for name in names)
    rows = (
        _element(name, series[name][n])[2:] for n in range(counts.pop()) for name in names
    )
    return bytes([ElementId.TIME_STEP, 0x18]) + encode_step(step) + idents + b"".join(rows)


def up_body(
    function: int, *, serial: int, sent: datetime, station: str, station_class: int,
    observed: datetime | None, values: Mapping[str, float | None] | None,
    series: Mapping[str, Sequence[float | None]] | None, step: timedelta | None,
) -> bytes:
    """The body of an up-link report (serial, send time, station, observation time, elements)."""
    head = serial.to_bytes(2, "big") + encode_time(sent)
    if function == FunctionCode.KEEPALIVE:
        return head
    parts = [head, b"\xf1\xf1", _address(station), bytes([station_class])]
    parts += [b"\xf0\xf0", encode_time(observed or sent, seconds=False)]
    if function == FunctionCode.UNIFORM_INTERVAL:
        parts.append(_series(series or {}, step))
    elif series:
        raise EncodeError("series are only carried by uniform-interval (31) reports")
    parts += [_element(name, value) for name, value in (values or {}).items()]
    return b"".join(parts)


def encode_up(
    function: int, station: str, *, serial: int, sent: datetime, centre: int = 1,
    password: int = 0, station_class: int = 0x48, observed: datetime | None = None,
    values: Mapping[str, float | None] | None = None,
    series: Mapping[str, Sequence[float | None]] | None = None,
    step: timedelta | None = None, max_body: int = MAX_BODY,
) -> list[bytes]:
    """Build an up-link report as one frame, or several packets when the body exceeds
    ``max_body`` (each packet's length, which counts its 3 packet bytes, stays <= ``max_body``).

    ``values`` maps stage/discharge/voltage to a float (``None`` = invalid, sent as all FF) at
    ``observed`` (default: ``sent``); ``series`` maps names to equal-length lists starting at
    ``observed``, one value per ``step`` (31 only). 2F keep-alives carry serial and time only.
    """
    if function not in UP_FUNCTIONS:
        raise EncodeError(f"function {function:02X} is not an up-link report this encoder builds")
    if not 0 <= serial <= 0xFFFF:
        raise EncodeError(f"serial {serial} is not 0..65535")
    body = up_body(function, serial=serial, sent=sent, station=station,
                   station_class=station_class, observed=observed, values=values,
                   series=series, step=step)
    common = dict(up=True, centre=centre, station=station, password=password, function=function)
    if len(body) <= max_body:
        return [build_frame(**common, body=body, end=EndChar.ETX)]
    return _split(body, max_body, common)


def _split(body: bytes, max_body: int, common: dict) -> list[bytes]:
    chunk = max_body - 3
    if chunk < 8:
        raise EncodeError(f"max_body {max_body} leaves no room for serial and time")
    pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)]
    total = len(pieces)
    if total > 0x0FFF:
        raise EncodeError(f"{total} packets exceed the 12-bit packet counter")
    return [
        build_frame(**common, body=piece, packet=(total, seq),
                    end=EndChar.ETX if seq == total else EndChar.ETB)
        for seq, piece in enumerate(pieces, start=1)
    ]


def encode_down(
    function: int, station: str, *, serial: int, sent: datetime, centre: int = 1,
    password: int = 0, end: int = EndChar.ENQ, payload: bytes = b"",
) -> bytes:
    """A down-link frame (station address first). Centre-initiated frames use serial 0 and ENQ
    05, e.g. ``encode_down(0x37, station, serial=0, sent=now)`` queries real-time data."""
    body = serial.to_bytes(2, "big") + encode_time(sent) + payload
    return build_frame(up=False, centre=centre, station=station, password=password,
                       function=function, body=body, end=end)


#: Element name -> (identifier, definition byte) a 38 period query asks for.
QUERY_ELEMENTS = {
    "stage": (ElementId.STAGE, 0x23), "discharge": (ElementId.DISCHARGE, 0x2B),
    "voltage": (ElementId.VOLTAGE, 0x12), "rain": (ElementId.RAIN_5MIN, 0x60),
    "stage_relative": (0xF5, 0xC0),
}


def encode_query_realtime(station: str, *, sent: datetime, centre: int = 1,
                          password: int = 0) -> bytes:
    """37: the centre asks the station for its current values (serial 0, ENQ 05). The station
    answers with a 37 up-link report, acknowledged like any report."""
    return encode_down(FunctionCode.QUERY_REALTIME, station, serial=0, sent=sent,
                       centre=centre, password=password)


def encode_query_period(
    station: str, *, sent: datetime, begin: datetime, end: datetime, step: timedelta,
    element: str | tuple[int, int], centre: int = 1, password: int = 0,
) -> bytes:
    """38: the centre asks for one element's stored values from ``begin`` to ``end``.

    Body after serial 0 and send time: start and end hour (yyMMddHH BCD, China time, so both
    must be whole hours), the time step (``04 18`` + day/hour/minute BCD) and the element's
    identifier and definition byte (a name of :data:`QUERY_ELEMENTS` or a raw pair). The
    station answers with 38 up-link frames laid out like a 31 report (one value per step).
    """
    ident, definition = QUERY_ELEMENTS[element] if isinstance(element, str) else element
    for when in (begin, end):
        if (when.minute, when.second, when.microsecond) != (0, 0, 0):
            raise EncodeError(f"{when} is not a whole hour (38 queries name hours)")
    if begin > end:
        raise EncodeError(f"query starts {begin} after it ends {end}")
    payload = b"".join((encode_time(begin, seconds=False)[:4], encode_time(end, seconds=False)[:4],
                        bytes([ElementId.TIME_STEP, 0x18]), encode_step(step),
                        bytes([ident, definition])))
    return encode_down(FunctionCode.QUERY_PERIOD, station, serial=0, sent=sent, centre=centre,
                       password=password, payload=payload)


def ack(frame: Frame, *, sent: datetime, keep_online: bool = False,
        serial: int | None = None) -> bytes | None:
    """The platform's answer to an up-link frame, or ``None`` when none is due (see module doc).

    ``serial`` overrides the echoed serial (packets after the first carry none; 0 is used)."""
    if not frame.up:
        raise EncodeError("only up-link frames are acknowledged")
    if frame.function == FunctionCode.KEEPALIVE:
        return None
    if frame.end == EndChar.ETB:
        end = EndChar.ACK
    else:
        end = EndChar.ESC if keep_online else EndChar.EOT
    echo = serial if serial is not None else frame.serial or 0
    return encode_down(frame.function, frame.station, serial=echo, sent=sent,
                       centre=frame.centre, password=frame.password, end=end)
