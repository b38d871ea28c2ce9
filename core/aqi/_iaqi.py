"""Vectorised IAQI: piecewise-linear interpolation rounded up, with HJ 633's substitutions."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._tables import EDITIONS, IAQI_MAX, Table

# Indicator -> breakpoint table, per period. Hourly PM has no 1 h row: graded on the 24 h rows.
HOURLY_TABLES = {
    "pm25": "pm25_24h", "pm10": "pm10_24h", "so2": "so2_1h", "no2": "no2_1h",
    "co": "co_1h", "o3": "o3_1h", "o3_8h": "o3_8h",
}
DAILY_TABLES = {
    "pm25": "pm25_24h", "pm10": "pm10_24h", "so2": "so2_24h", "no2": "no2_24h",
    "co": "co_24h", "o3_8h": "o3_8h",
}
# Decimal places kept before rounding up: absorbs float noise (~1e-13) so that a
# concentration exactly on a breakpoint gives exactly that breakpoint's IAQI.
_NOISE_DECIMALS = 9


def interpolate(conc: np.ndarray, table: Table) -> np.ndarray:
    """IAQI by linear interpolation, rounded up; above the top breakpoint -> NaN."""
    c = np.asarray(conc, dtype=float)
    bp, iq = table.bp, table.iaqi
    seg = np.clip(np.searchsorted(bp, c, side="right") - 1, 0, len(bp) - 2)
    lo, hi = bp[seg], bp[seg + 1]
    x = iq[seg] + (iq[seg + 1] - iq[seg]) * (c - lo) / (hi - lo)
    x = np.ceil(np.round(x, _NOISE_DECIMALS))
    return np.where((c < 0) | (c > bp[-1]), np.nan, x)


def _grade_one_edition(
    conc: np.ndarray, table: str, edition: int, subs: Mapping[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    tab = EDITIONS[edition].tables[table]
    out = interpolate(conc, tab)
    beyond = conc > tab.bp[-1]
    if not beyond.any():
        return out, np.zeros(out.shape, dtype=bool)
    if tab.beyond_top == "cap":
        out[beyond] = IAQI_MAX
        return out, np.zeros(out.shape, dtype=bool)
    sub = subs.get(tab.beyond_top)
    if sub is not None:
        sub_iaqi, _ = _grade_one_edition(
            np.broadcast_to(sub, conc.shape)[beyond], tab.beyond_top, edition, {}
        )
        out[beyond] = sub_iaqi
    return out, beyond & np.isnan(out)


def grade(
    conc: np.ndarray,
    table: str,
    edition_idx: np.ndarray,
    subs: Mapping[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """IAQI of ``conc`` on ``table`` of the edition at each element.

    ``subs`` maps a substitute table name (``so2_24h``, ``o3_1h``) to the concentration
    graded instead when ``conc`` is above the top breakpoint. Returns the IAQI (NaN where
    not gradable) and a mask of values above the top that had no substitute.
    """
    conc = np.asarray(conc, dtype=float)
    eds = np.broadcast_to(edition_idx, conc.shape)
    subs = {k: np.broadcast_to(v, conc.shape) for k, v in (subs or {}).items()}
    if conc.size == 0:
        return conc.copy(), np.zeros(conc.shape, dtype=bool)
    first, last = int(eds.min()), int(eds.max())
    if first == last:
        return _grade_one_edition(conc, table, first, subs)
    out = np.full(conc.shape, np.nan)
    unresolved = np.zeros(conc.shape, dtype=bool)
    for e in range(first, last + 1):
        m = eds == e
        out[m], unresolved[m] = _grade_one_edition(
            conc[m], table, e, {k: v[m] for k, v in subs.items()}
        )
    return out, unresolved
