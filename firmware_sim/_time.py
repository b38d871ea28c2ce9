"""Time helpers: the hourly grid, CST calendar fields, durations and offsets in config."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from core.timeutil import CST, parse_duration

__all__ = ["CST", "UTC", "HourGrid", "epoch_s", "parse_duration", "parse_time"]

UTC = timezone.utc


def parse_time(text: str | datetime, *, base: datetime | None = None) -> datetime:
    """ISO time (naive = CST) or '+2d12h' relative to ``base`` -> aware datetime."""
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=CST)
    s = str(text).strip()
    if s.startswith("+"):
        if base is None:
            raise ValueError(f"relative time {text!r} needs a base")
        return base + parse_duration(s[1:])
    when = datetime.fromisoformat(s)
    return when if when.tzinfo else when.replace(tzinfo=CST)


def epoch_s(when: datetime) -> float:
    return when.timestamp()


@dataclass(frozen=True)
class HourGrid:
    """Hourly time grid: ``hours`` are whole hours since the Unix epoch (UTC)."""

    hours: np.ndarray  # int64

    @classmethod
    def span(cls, start: datetime, end: datetime) -> "HourGrid":
        h0 = int(start.timestamp() // 3600)
        h1 = int(-(-end.timestamp() // 3600))
        return cls(np.arange(h0, h1 + 1, dtype=np.int64))

    @property
    def first_s(self) -> int:
        return int(self.hours[0]) * 3600

    def __len__(self) -> int:
        return len(self.hours)

    def index(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(pd.to_datetime(self.hours * 3600, unit="s", utc=True), name="ts")

    def local_hour(self) -> np.ndarray:
        """CST hour of day, 0..23 (float)."""
        return ((self.hours + 8) % 24).astype(float)

    def local_day(self) -> np.ndarray:
        """CST day number since the epoch."""
        return (self.hours + 8) // 24

    def weekday(self) -> np.ndarray:
        """0 = Monday ... 6 = Sunday (CST)."""
        return (self.local_day() + 3) % 7

    def day_of_year(self) -> np.ndarray:
        """Fractional CST day of year, 0 = 1 January 00:00."""
        local = (self.hours + 8).astype("timedelta64[h]") + np.datetime64(0, "h")
        year0 = local.astype("datetime64[Y]").astype("datetime64[h]")
        return (local - year0).astype(np.int64) / 24.0

    def hours_since(self, when: datetime) -> np.ndarray:
        return self.hours - when.timestamp() / 3600.0
