"""Body parsing: serial, send time and the element list of up-link bodies."""

from __future__ import annotations

from datetime import datetime

from ._bcd import decode_time
from ._consts import CLASS_FUNCTIONS, ELEMENT_FUNCTIONS, SERIES_FUNCTIONS, ElementId
from ._errors import FrameError, Reason
from ._model import Element
from ._series import parse_series
from ._values import element_value

Parsed = tuple[int | None, datetime | None, tuple[Element, ...]]


def parse_body(body: bytes, function: int, *, up: bool, first: bool, complete: bool) -> Parsed:
    """Serial, send time and elements of a body (elements only for complete up-link reports)."""
    if not first:
        return None, None, ()
    if len(body) < 8:
        raise FrameError(Reason.BAD_LENGTH, f"body has {len(body)} bytes, serial+time need 8")
    serial = int.from_bytes(body[0:2], "big")
    sent = decode_time(body[2:8], "send time")
    if not (up and complete and function in ELEMENT_FUNCTIONS):
        return serial, sent, ()
    return serial, sent, parse_elements(body, 8, function, sent)


def parse_elements(body: bytes, i: int, function: int, ts: datetime | None) -> tuple[Element, ...]:
    out: list[Element] = []
    while i < len(body):
        ident = body[i]
        if ident in (ElementId.OBS_TIME, ElementId.STATION, ElementId.MANUAL_TEXT, ElementId.IMAGE):
            _repeat_check(body, i)
        if ident == ElementId.OBS_TIME:
            element, i = _obs_time(body, i)
            ts = element.value
        elif ident == ElementId.STATION:
            element, i = _station(body, i, function in CLASS_FUNCTIONS)
        elif ident in (ElementId.MANUAL_TEXT, ElementId.IMAGE):
            element, i = _tail(body, i, ts)
        else:
            element, i = _plain(body, i, ts)
        out.append(element)
        if element.id == ElementId.TIME_STEP and function in SERIES_FUNCTIONS:
            start = ts if ts is not None else _missing_start()
            out.extend(parse_series(body, i, start, element.value))
            break
    return tuple(out)


def _missing_start() -> datetime:
    raise FrameError(Reason.BAD_FIELD, "series without an observation time")


def _repeat_check(body: bytes, i: int) -> None:
    if i + 1 >= len(body) or body[i + 1] != body[i]:
        raise FrameError(Reason.BAD_FIELD, f"element {body[i]:02X} must repeat its identifier")


def _need(body: bytes, end: int, what: str) -> None:
    if end > len(body):
        raise FrameError(Reason.BAD_FIELD, f"{what} runs past the end of the body")


def _obs_time(body: bytes, i: int) -> tuple[Element, int]:
    _need(body, i + 7, "observation time")
    raw = body[i + 2 : i + 7]
    when = decode_time(raw, "observation time")
    return Element(ElementId.OBS_TIME, when, when, raw), i + 7


def _station(body: bytes, i: int, with_class: bool) -> tuple[Element, int]:
    end = i + 8 if with_class else i + 7
    _need(body, end, "station element")
    raw = body[i + 2 : end]
    klass = raw[5] if with_class else None
    return Element(ElementId.STATION, (raw[:5].hex().upper(), klass), None, raw), end


def _tail(body: bytes, i: int, ts: datetime | None) -> tuple[Element, int]:
    raw = body[i + 2 :]
    value = raw.decode("ascii", "replace") if body[i] == ElementId.MANUAL_TEXT else raw
    return Element(body[i], value, ts, raw), len(body)


def _plain(body: bytes, i: int, ts: datetime | None) -> tuple[Element, int]:
    ident = body[i]
    if ident == 0xFF:  # extension identifier FF xx
        _need(body, i + 2, "extension identifier")
        i += 1
        ident = 0xFF00 | body[i]
    _need(body, i + 2, f"element {ident:02X}")
    length, decimals = body[i + 1] >> 3, body[i + 1] & 7
    if length == 0:
        raise FrameError(Reason.BAD_FIELD, f"element {ident:02X} has a zero length")
    _need(body, i + 2 + length, f"element {ident:02X}")
    raw = body[i + 2 : i + 2 + length]
    return Element(ident, element_value(ident, raw, decimals), ts, raw, decimals), i + 2 + length
