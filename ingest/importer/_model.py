"""What a format parser hands the loader, and the import summary."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Chunk:
    """Readings of one kind from consecutive rows of one file, in catalogue units.

    ``ts`` is the start of each reading's period (UTC epoch s, PT1H); ``values[p]`` is NaN where
    the file has no valid value. ``rejected`` counts the values refused while parsing, by
    reason; ``missing`` the empty cells (``NA`` or blank), which are not values."""

    kind: str
    station: np.ndarray
    city: np.ndarray
    ts: np.ndarray
    values: dict[str, np.ndarray]
    flags: dict[str, np.ndarray] = field(default_factory=dict)
    rows: int = 0
    end_row: int = 0                    # rows of the file consumed once this chunk is stored
    missing: int = 0
    rejected: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)   # read, deliberately not imported


@dataclass
class Summary:
    files: int = 0
    files_skipped: int = 0              # already imported (resume state), not read again
    rows_read: int = 0
    values_read: int = 0                # cells holding something (missing ones excluded)
    missing: int = 0
    readings_stored: int = 0            # station-hours written with at least one new value
    values_stored: int = 0              # new values
    values_replaced: int = 0            # values that differed from the stored ones
    values_unchanged: int = 0           # already stored with the same value
    rejected: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    per_station: Counter = field(default_factory=Counter)   # (station, parameter) -> new values

    def as_dict(self) -> dict:
        return {"files": self.files, "files_skipped": self.files_skipped,
                "rows_read": self.rows_read, "values_read": self.values_read,
                "missing": self.missing, "readings_stored": self.readings_stored,
                "values_stored": self.values_stored, "values_replaced": self.values_replaced,
                "values_unchanged": self.values_unchanged,
                "values_rejected": sum(self.rejected.values()),
                "rejected": dict(sorted(self.rejected.items())),
                "skipped": dict(sorted(self.skipped.items()))}

    def balanced(self) -> bool:
        """Every value read is stored, replaced, unchanged, rejected or skipped: nothing is
        dropped silently."""
        accounted = (self.values_stored + self.values_replaced + self.values_unchanged
                     + sum(self.rejected.values()) + sum(self.skipped.values()))
        return accounted == self.values_read
