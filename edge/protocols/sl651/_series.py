"""Series in 31 (uniform-interval) and 38 (period query) bodies.

After the 04 time step the body lists element identifiers (identifier + definition byte), then
the values interleaved by time step: v1(t0) v2(t0) ... v1(t0+step) v2(t0+step) ...
The frame does not say where the identifier list ends, so the parser takes the longest run of
distinct identifiers from ``SERIES_IDS`` with a plausible value length for which the remaining
bytes are a whole number of time steps and every value decodes.

Residual ambiguity (inherent to the layout): a step-0 value whose first two bytes look like such
a pair. Stage and discharge values start with 00..09 or FF, so a list that begins with stage or
discharge (the encoder's canonical order) is unambiguous unless stage <= -1000 m or discharge
<= -100000 m3/s; a voltage-only series of 20.xx/26.xx/27.xx/38.xx/39.xx V can be misread.
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


#: Identifiers a series may list -> allowed value lengths in bytes.
SERIES_IDS = {
    0x39: range(3, 6),  # stage Z
    0x27: range(3, 7),  # discharge Q
    0x38: range(2, 4),  # voltage VT
    0x1A: range(2, 4), 0x20: range(2, 4), 0x26: range(2, 4),  # rainfall P1, PJ, PT
    0xF4: range(12, 13),  # 12 x 5-min rain
    **{ident: range(24, 25) for ident in range(0xF5, 0xFD)},  # 12 x 5-min relative stage
}


def _identifier_run(body: bytes, i: int) -> list[Ident]:
    out: list[Ident] = []
    while i + 1 < len(body) and len(out) < MAX_SERIES_IDS:
        ident, length = body[i], body[i + 1] >> 3
        if length not in SERIES_IDS.get(ident, ()) or any(ident == seen for seen, _, _ in out):
            break
        out.append((ident, length, body[i + 1] & 7))
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
