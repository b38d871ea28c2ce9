"""HJ 212 data-quality flags, shared by every service (DOMAIN.md section 5).

N normal; F instrument stopped; M maintenance; S manually set value; D fault;
C calibration; T above measuring range; B data-logger communication fault.

* N counts toward means and AQI.
* T (above the instrument's upper limit) counts as a **lower bound**: the true value is at
  least the one reported, so it counts for warnings and alerts (a mean or AQI that uses it
  is itself a lower bound) and is marked in published values.
* The others are invalid: the value never counts.

Flags are upper case on the wire. Decoders call :func:`normalise` once, where a device's
packet is decoded, so every consumer sees the same letter (``n`` and ``N`` agree);
consumers compare with the upper-case sets below and never re-normalise.
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
#: Valid, but the true value is at least the reported one.
LOWER_BOUND_FLAGS = frozenset({"T"})
INVALID_FLAGS = frozenset(FLAGS) - VALID_FLAGS


def normalise(flag: str | None) -> str | None:
    """The canonical (upper-case, trimmed) flag; None or empty stays None (= N).

    Unknown letters are returned upper-cased, for the caller to reject or count.
    """
    if flag is None:
        return None
    text = flag.strip().upper()
    return text or None


def is_valid(flag: str | None) -> bool:
    """True when a value with this flag may count toward means and AQI (N or T)."""
    return flag is None or flag in VALID_FLAGS


def is_lower_bound(flag: str | None) -> bool:
    """True when the value counts only as a lower bound of the true value (T)."""
    return flag in LOWER_BOUND_FLAGS
