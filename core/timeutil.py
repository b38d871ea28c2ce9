"""Time helpers: durations like ``7d``, China Standard Time, local days."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

CST = timezone(timedelta(hours=8), "CST")
_DUR = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: str | float | int | timedelta) -> timedelta:
    """``90s``, ``15m``, ``12h``, ``7d``, ``2w`` or sums like ``1d12h`` → timedelta; a number
    is seconds, a timedelta is returned as is. ValueError with a clear message."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=float(value))
    text = str(value or "").replace(" ", "").lower()
    parts = _DUR.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"bad duration {value!r}: use a number with s, m, h, d or w "
                         "(e.g. 7d, 1d12h)")
    return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))


def cst_day_start(ts: datetime) -> datetime:
    """Start (as UTC) of the China Standard Time day holding ``ts``."""
    local = ts.astimezone(CST)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(timezone.utc)
