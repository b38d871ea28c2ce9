"""From per-indicator IAQI arrays to AQI, category, primary/exceeding pollutants and status."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ._tables import CATEGORIES

ORDER = ("pm25", "pm10", "so2", "no2", "co", "o3", "o3_8h")
PRIMARY_ABOVE = 50
EXCEEDING_ABOVE = 100
STATUSES = ("ok", "partial", "insufficient_data")
_UNRESOLVED_TEXT = {
    "so2": "so2 1h > 800 and no valid 24h mean",
    "o3_8h": "o3_8h > 800 and no valid 1h value",
}
_UPPER = np.array([c.max_aqi if c.max_aqi is not None else np.inf for c in CATEGORIES])


def level_of(aqi: np.ndarray) -> np.ndarray:
    """Category level 1..6 for each AQI (0 where AQI is NaN)."""
    aqi = np.asarray(aqi, dtype=float)
    return np.where(np.isnan(aqi), 0, np.searchsorted(_UPPER, aqi, side="left") + 1)


def bit_codes(masks: Mapping[str, np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape, dtype=np.int32)
    for name, m in masks.items():
        out |= np.asarray(m, dtype=np.int32) << ORDER.index(name)
    return out


def names_of(code: int) -> list[str]:
    """The indicator names whose bits are set in ``code``, in ORDER."""
    return [n for i, n in enumerate(ORDER) if code >> i & 1]


def join_names(code: int) -> str:
    """Comma-separated indicator names for a bit code ('' for none)."""
    return ",".join(names_of(code))


def labels(codes: np.ndarray, text) -> pd.Categorical:
    """Categorical of ``text(code)`` for small non-negative integer codes (O(n), no sort)."""
    codes = np.asarray(codes).reshape(-1)
    present = np.flatnonzero(np.bincount(codes, minlength=1))
    lookup = np.zeros(present.max(initial=0) + 1, dtype=np.int32)
    lookup[present] = np.arange(len(present))
    names = pd.Index([text(int(c)) for c in present])
    return pd.Categorical.from_codes(lookup[codes], categories=names)


def _reason(code: int) -> str:
    missing, unresolved = names_of(code & 0xFF), names_of(code >> 8)
    parts = [f"insufficient data: {','.join(missing)}"] if missing else []
    parts += [_UNRESOLVED_TEXT[n] for n in unresolved]
    return "; ".join(parts)


def lower_bound(iaqi: Mapping[str, np.ndarray]) -> np.ndarray:
    """What the valid indicators prove: the AQI is at least their largest IAQI.

    Equal to the AQI when every indicator is graded; NaN only when none is. For alerting
    and warnings (DOMAIN.md section 3); the published AQI keeps HJ 633's completeness rule.
    """
    return np.fmax.reduce(np.stack(list(iaqi.values())), axis=0)


def _aqi_and_status(
    iaqi: Mapping[str, np.ndarray], missing: np.ndarray, allow_partial: bool
) -> tuple[np.ndarray, pd.Categorical]:
    any_missing = missing.any(axis=0)
    aqi = lower_bound(iaqi)
    if not allow_partial:
        aqi = np.where(any_missing, np.nan, aqi)
    codes = np.where(np.isnan(aqi), 2, any_missing.astype(np.int8))
    return aqi, pd.Categorical.from_codes(codes, categories=STATUSES)


_CATEGORY_FIELDS = {
    "category": "roman", "category_zh": "zh", "category_en": "en",
    "colour": "colour", "colour_name": "colour_name",
}


def _category_columns(aqi: np.ndarray) -> dict[str, object]:
    level = level_of(aqi)
    cols: dict[str, object] = {"level": pd.array(level, dtype="Int8")}
    cols["level"][level == 0] = pd.NA
    for column, field in _CATEGORY_FIELDS.items():
        cats = pd.Index([getattr(c, field) for c in CATEGORIES])
        cols[column] = pd.Categorical.from_codes(level - 1, categories=cats)
    return cols


def combine(
    iaqi: Mapping[str, np.ndarray],
    unresolved: Mapping[str, np.ndarray],
    allow_partial: bool = False,
) -> dict[str, object]:
    """Result columns for flat arrays of IAQI per indicator (NaN = not gradable).

    ``unresolved`` is True where a value was above the top breakpoint without its
    substitute; any other NaN IAQI is reported as insufficient data. ``aqi_lower_bound``
    is the largest valid IAQI whatever is missing, and ``missing`` names the indicators
    without an IAQI (lacking data or unresolved).
    """
    shape = next(iter(iaqi.values())).shape
    none = np.zeros(shape, dtype=bool)
    unresolved = {n: unresolved.get(n, none) for n in iaqi}
    lacking = {n: np.isnan(v) & ~unresolved[n] for n, v in iaqi.items()}
    missing = np.stack([np.isnan(v) for v in iaqi.values()])
    aqi, status = _aqi_and_status(iaqi, missing, allow_partial)
    with np.errstate(invalid="ignore"):
        primary = bit_codes({n: (v == aqi) & (aqi > PRIMARY_ABOVE) for n, v in iaqi.items()}, shape)
        exceeding = bit_codes({n: v > EXCEEDING_ABOVE for n, v in iaqi.items()}, shape)
    reason = bit_codes(lacking, shape) | (bit_codes(unresolved, shape) << 8)
    return {
        "aqi": aqi,
        "aqi_lower_bound": lower_bound(iaqi),
        "missing": labels(bit_codes(dict(zip(iaqi, missing)), shape), join_names),
        **_category_columns(aqi),
        "primary": labels(primary, join_names),
        "exceeding": labels(exceeding, join_names),
        "status": status,
        "reason": labels(reason, _reason),
    }
