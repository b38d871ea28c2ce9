"""Time helpers: durations like ``7d``, China Standard Time, local days."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

CST = timezone(timedelta(hours=8), "CST")
_DUR = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``12h``, ``7d``, ``2w`` → timedelta; ValueError with a clear message."""
    m = _DUR.match(text or "")
    if not m:
        raise ValueError(f"bad duration {text!r}: use a number with s, m, h, d or w (e.g. 7d)")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


def cst_day_start(ts: datetime) -> datetime:
    """Start (as UTC) of the China Standard Time day holding ``ts``."""
    local = ts.astimezone(CST)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(timezone.utc)
