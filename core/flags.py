"""HJ 212 data-quality flags, shared by every service.

N normal; F instrument stopped; M maintenance; S manually set value; D fault;
C calibration; T above measuring range; B data-logger communication fault.
Only N (and T, kept but marked) count as valid data for means and AQI.
"""
from __future__ import annotations

FLAGS: dict[str, str] = {
    "N": "normal",
    "F": "instrument stopped",
    "M": "maintenance",
    "S": "manually set value",
    "D": "fault",
    "C": "calibration",
    "T": "above measuring range",
    "B": "data-logger communication fault",
}
VALID_FLAGS = frozenset({"N", "T"})
INVALID_FLAGS = frozenset(FLAGS) - VALID_FLAGS


def is_valid(flag: str | None) -> bool:
    """True when a value with this flag may count toward means and AQI."""
    return flag is None or flag in VALID_FLAGS
