"""Series in 31 (uniform-interval) and 38 (period query) bodies.

After the 04 time step the body lists element identifiers (identifier + definition byte), then
the values interleaved by time step: v1(t0) v2(t0) ... v1(t0+step) v2(t0+step) ...
The frame does not say where the identifier list ends, so the parser takes the longest run of
plausible identifier pairs (01..75 except 04, or F4..FC; non-zero length; no FF extension) for
which the remaining bytes are a whole number of time steps and every value decodes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ._errors import FrameError, Reason
from ._model import Element
from ._values import element_value

MAX_SERIES_IDS = 16

Ident = tuple[int, int, int]  # identifier, byte length, decimals


def parse_series(body: bytes, i: int, t0: datetime, step: timedelta) -> list[Element]:
    rest = len(body) - i
    if rest == 0:
        return []
    if step <= timedelta(0):
        raise FrameError(Reason.BAD_FIELD, "series with a zero time step")
    candidates = _identifier_run(body, i)
    first_error: FrameError | None = None
    for k in range(len(candidates), 0, -1):
        idents = candidates[:k]
        size = sum(length for _, length, _ in idents)
        left = rest - 2 * k
        if left <= 0 or left % size:
            continue
        try:
            return _values(body, i + 2 * k, idents, left // size, t0, step)
        except FrameError as exc:
            first_error = first_error or exc
    raise first_error or FrameError(
        Reason.BAD_FIELD, "series body does not split into identifiers and whole time steps"
    )


def _plausible(ident: int, definition: int) -> bool:
    known = (0x01 <= ident <= 0x75 and ident != 0x04) or 0xF4 <= ident <= 0xFC
    return known and definition >> 3 > 0


def _identifier_run(body: bytes, i: int) -> list[Ident]:
    out: list[Ident] = []
    while i + 1 < len(body) and len(out) < MAX_SERIES_IDS and _plausible(body[i], body[i + 1]):
        out.append((body[i], body[i + 1] >> 3, body[i + 1] & 7))
        i += 2
    return out


def _values(
    body: bytes, i: int, idents: list[Ident], steps: int, t0: datetime, step: timedelta
) -> list[Element]:
    out = []
    for n in range(steps):
        ts = t0 + n * step
        for ident, length, decimals in idents:
            raw = body[i : i + length]
            out.append(Element(ident, element_value(ident, raw, decimals), ts, raw, decimals))
            i += length
    return out
