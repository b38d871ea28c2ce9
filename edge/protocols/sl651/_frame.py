"""Framing: header, length, end char, CRC and packet counter of one HEX frame."""

from __future__ import annotations

from dataclasses import dataclass

from ._consts import DOWN_ENDS, HEADER_LEN, KNOWN_FUNCTIONS, MAX_BODY, STX, SYN, SYNC, UP_ENDS
from ._crc import crc16_modbus
from ._elements import parse_body
from ._errors import FrameError, Reason
from ._model import Frame

#: Result of :func:`try_frame`: ``None`` = need more bytes, else the item and how far to advance.
Attempt = tuple[Frame | FrameError, int] | None


@dataclass(frozen=True, slots=True)
class _Header:
    up: bool
    centre: int
    station: str
    password: int
    function: int
    length: int
    start: int


def _header(buf: bytes | bytearray, p: int) -> _Header:
    length_word = int.from_bytes(buf[p + 11 : p + 13], "big")
    up = length_word >> 12 == 0
    if not up and length_word >> 12 != 8:
        raise FrameError(Reason.BAD_FIELD, f"direction nibble {length_word >> 12:X} is not 0 or 8")
    station_at, centre_at = (p + 3, p + 2) if up else (p + 2, p + 7)
    return _Header(
        up=up,
        centre=buf[centre_at],
        station=bytes(buf[station_at : station_at + 5]).hex().upper(),
        password=int.from_bytes(buf[p + 8 : p + 10], "big"),
        function=buf[p + 10],
        length=length_word & 0x0FFF,
        start=buf[p + 13],
    )


def header_of(buf: bytes | bytearray, p: int) -> _Header:
    """The header fields of the candidate at ``buf[p]`` (at least 14 bytes), unchecked."""
    return _header(buf, p)


def _check_header(h: _Header, max_body: int) -> None:
    if h.function not in KNOWN_FUNCTIONS:
        raise FrameError(Reason.UNKNOWN_FUNCTION, f"function code {h.function:02X}")
    if h.start not in (STX, SYN):
        raise FrameError(Reason.BAD_FIELD, f"start char {h.start:02X} is not 02 or 16")
    if h.start == SYN and h.length < 3:
        raise FrameError(Reason.BAD_LENGTH, f"multi-packet frame with length {h.length} < 3")
    if h.length > max_body:
        raise FrameError(Reason.OVERSIZE, f"body length {h.length} > limit {max_body}")


def try_frame(
    buf: bytes | bytearray, p: int, *, max_body: int = MAX_BODY, verify_crc: bool = True
) -> Attempt:
    """Decode the frame whose 7E 7E is at ``buf[p]``; never raises :class:`FrameError`.

    Errors before the CRC has matched advance one byte (the boundaries are unsure and a real
    frame may start inside); errors after it advance past the whole frame.
    """
    if len(buf) - p < HEADER_LEN:
        return None
    header = None
    try:
        header = _header(buf, p)
        _check_header(header, max_body)
        size = HEADER_LEN + header.length + 3
        if len(buf) - p < size:
            return None
        raw = bytes(buf[p : p + size])
        _check_trailer(raw, header, verify_crc)
    except FrameError as exc:
        return _reject(exc, buf, p, header), 1
    try:
        return _frame(raw, header), size
    except FrameError as exc:
        return _reject(exc, buf, p, header), size


def _reject(exc: FrameError, buf: bytes | bytearray, p: int, h: _Header | None) -> FrameError:
    size = HEADER_LEN
    if h is not None:
        exc.station, exc.function = h.station, h.function
        size += h.length + 3
    exc.raw = bytes(buf[p : p + size])
    return exc


def _check_trailer(raw: bytes, h: _Header, verify_crc: bool) -> None:
    end = raw[-3]
    if end not in (UP_ENDS if h.up else DOWN_ENDS):
        side = "up" if h.up else "down"
        raise FrameError(
            Reason.BAD_LENGTH, f"no {side}-link end char where the length points ({end:02X})"
        )
    crc, want = crc16_modbus(raw[:-2]), int.from_bytes(raw[-2:], "big")
    if verify_crc and crc != want:
        raise FrameError(Reason.BAD_CRC, f"CRC {want:04X} in frame, computed {crc:04X}")


def _frame(raw: bytes, h: _Header) -> Frame:
    body_at, packets = HEADER_LEN, None
    if h.start == SYN:
        counter = int.from_bytes(raw[HEADER_LEN : HEADER_LEN + 3], "big")
        total, seq = counter >> 12, counter & 0x0FFF
        if not 1 <= seq <= total:
            raise FrameError(Reason.BAD_FIELD, f"packet {seq} of {total}")
        body_at, packets = HEADER_LEN + 3, (total, seq)
    body = raw[body_at:-3]
    first = packets is None or packets[1] == 1
    serial, sent, elements = parse_body(
        body, h.function, up=h.up, first=first, complete=packets is None
    )
    return Frame(
        direction="up" if h.up else "down", centre=h.centre, station=h.station,
        password=h.password, function=h.function, end=raw[-3], serial=serial, sent=sent,
        elements=elements, packets=packets, body=body,
    )


def decode_frame(data: bytes, *, verify_crc: bool = True, max_body: int = MAX_BODY) -> Frame:
    """Decode exactly one frame; raise :class:`FrameError` with a :class:`Reason` otherwise."""
    data = bytes(data)
    if not data.startswith(SYNC):
        raise FrameError(Reason.BAD_FIELD, "frame does not start with 7E 7E", raw=data[:16])
    attempt = try_frame(data, 0, max_body=max_body, verify_crc=verify_crc)
    if attempt is None:
        raise FrameError(Reason.TRUNCATED, f"{len(data)} bytes end inside the frame", raw=data)
    item, size = attempt
    if isinstance(item, FrameError):
        raise item
    if size != len(data):
        raise FrameError(Reason.BAD_LENGTH, f"{len(data) - size} bytes after the frame",
                         station=item.station, function=item.function, raw=data)
    return item
