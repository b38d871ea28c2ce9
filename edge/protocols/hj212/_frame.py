"""One frame: ``##`` + LLLL + data segment + CRC + CRLF  <->  Packet."""

from __future__ import annotations

from collections.abc import Container

from ._crc import crc16, swap_bytes
from ._errors import DecodeError, Reason
from ._model import KNOWN_CNS, Packet
from ._segment import format_segment, parse_segment

#: The standard caps the data segment at 1024 characters; field loggers exceed it.
DEFAULT_MAX_LENGTH = 4096

_HEX = frozenset(b"0123456789abcdefABCDEF")


def encode_packet(packet: Packet) -> bytes:
    """Packet -> frame bytes. ``crc_swapped=True`` emits the byte-swapped CRC (to play a buggy device)."""
    segment = format_segment(packet).encode("utf-8")
    if len(segment) > 9999:
        raise ValueError(f"data segment of {len(segment)} bytes does not fit LLLL; split it")
    crc = crc16(segment)
    if packet.crc_swapped:
        crc = swap_bytes(crc)
    return b"##%04d%s%04X\r\n" % (len(segment), segment, crc)


def decode_packet(
    frame: bytes | str,
    *,
    max_length: int = DEFAULT_MAX_LENGTH,
    swapped_crc_devices: Container[str] = frozenset(),
    known_cns: Container[str] = KNOWN_CNS,
) -> Packet:
    """Decode one frame (trailing CRLF optional); raise :class:`DecodeError` when rejected.

    ``swapped_crc_devices``: MNs whose byte-swapped CRC is accepted (``crc_swapped=True``).
    """
    raw = frame.encode("utf-8") if isinstance(frame, str) else bytes(frame)
    try:
        segment, crc_field = split_frame(raw, max_length)
        return _decode_segment(segment, int(crc_field, 16), swapped_crc_devices, known_cns)
    except DecodeError as exc:
        exc.raw = raw
        raise


def split_frame(raw: bytes, max_length: int) -> tuple[bytes, bytes]:
    """Check the framing; return (data segment, CRC field)."""
    if raw[:2] != b"##":
        raise DecodeError(Reason.BAD_HEADER, "frame does not start with '##'")
    terminated = raw.endswith(b"\r\n")
    body = raw[6:-2] if terminated else raw[6:]
    if len(raw) < 6:
        raise DecodeError(Reason.BAD_LENGTH if terminated else Reason.TRUNCATED, "no length field")
    if not raw[2:6].isdigit():
        raise DecodeError(Reason.BAD_LENGTH, f"length field {raw[2:6]!r} is not 4 digits")
    declared = int(raw[2:6])
    if declared > max_length:
        raise DecodeError(Reason.OVERSIZE, f"declared length {declared} > {max_length}")
    end = body.rfind(b"&&")
    if end < 0:
        if len(body) < declared:
            raise DecodeError(Reason.TRUNCATED, f"{len(body)} of {declared} bytes")
        raise DecodeError(Reason.BAD_FIELD, "no closing '&&'", field="CP")
    _check_length(end + 2, declared, terminated)
    crc_field = body[end + 2 :]
    if len(crc_field) != 4 or not _HEX.issuperset(crc_field):
        if len(crc_field) < 4 and not terminated:
            raise DecodeError(Reason.TRUNCATED, "frame ends inside the CRC")
        raise DecodeError(Reason.BAD_CRC, f"CRC field {crc_field[:8]!r} is not 4 hex digits")
    return body[: end + 2], crc_field


def _check_length(actual: int, declared: int, terminated: bool) -> None:
    if actual == declared:
        return
    if actual < declared and not terminated:
        raise DecodeError(Reason.TRUNCATED, f"{actual} of {declared} bytes")
    raise DecodeError(Reason.BAD_LENGTH, f"declared {declared}, data segment is {actual}")


def _decode_segment(
    segment: bytes, got: int, swapped_ok: Container[str], known_cns: Container[str]
) -> Packet:
    try:
        text = segment.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(Reason.BAD_ENCODING, f"not UTF-8 at byte {exc.start}") from None
    expected = crc16(segment)
    try:
        packet: Packet | None = parse_segment(text)
    except DecodeError:
        if got == expected:
            raise
        packet = None  # a corrupted segment: the CRC error is the one to report
    if got != expected:
        packet = _tolerate_swap(packet, got, expected, swapped_ok)
    assert packet is not None
    if packet.cn not in known_cns:
        raise DecodeError(Reason.UNKNOWN_CN, f"CN={packet.cn}", field="CN", packet=packet)
    return packet


def _tolerate_swap(packet: Packet | None, got: int, expected: int, swapped_ok: Container[str]) -> Packet:
    swapped = got == swap_bytes(expected)
    if swapped and packet is not None and packet.mn in swapped_ok:
        packet.crc_swapped = True
        return packet
    note = " (byte-swapped; device not configured to tolerate it)" if swapped else ""
    raise DecodeError(Reason.BAD_CRC, f"got {got:04X}, expected {expected:04X}{note}", packet=packet)
