"""ISO 8601 durations as used for averaging periods (PT0S, PT1M, PT5M, PT1H, P1D ...)."""
from __future__ import annotations

import re
from functools import lru_cache

_RX = re.compile(r"^P(?:(\d{1,4})D)?(?:T(?:(\d{1,5})H)?(?:(\d{1,6})M)?(?:(\d{1,7})S)?)?$")
MAX_PERIOD_S = 31 * 86400


@lru_cache(maxsize=256)
def parse_period(text: str) -> tuple[str, int] | None:
    """Return (canonical text, seconds), or None when it is not a supported duration."""
    m = _RX.match(text)
    if not m or text in ("P", "PT") or text.endswith("T"):
        return None
    d, h, mi, s = (int(g) if g else 0 for g in m.groups())
    secs = ((d * 24 + h) * 60 + mi) * 60 + s
    if secs > MAX_PERIOD_S:
        return None
    return format_period(secs), secs


def format_period(secs: int) -> str:
    if secs == 0:
        return "PT0S"
    if secs % 86400 == 0:
        return f"P{secs // 86400}D"
    h, rem = divmod(secs, 3600)
    m, s = divmod(rem, 60)
    out = "PT" + (f"{h}H" if h else "") + (f"{m}M" if m else "") + (f"{s}S" if s else "")
    return out
