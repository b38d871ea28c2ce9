"""Value decoding by element identifier."""

from __future__ import annotations

from ._bcd import decode_number, decode_step
from ._consts import ElementId


def element_value(ident: int, raw: bytes, decimals: int) -> object:
    """Decode one value by its identifier (shared with the series parser)."""
    if ident == ElementId.TIME_STEP:
        return decode_step(raw)
    if ident == ElementId.STATUS:
        return int.from_bytes(raw, "big")
    if ident == ElementId.RAIN_5MIN:
        return tuple(None if b == 0xFF else b for b in raw)
    if 0xF5 <= ident <= 0xFC:
        return tuple(
            None if raw[k : k + 2] == b"\xff\xff" else int.from_bytes(raw[k : k + 2], "big")
            for k in range(0, len(raw) - 1, 2)
        )
    return decode_number(raw, decimals, f"element {ident:02X}")
