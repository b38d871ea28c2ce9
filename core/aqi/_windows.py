"""Moving-window statistics along the hour axis of (station, hour) arrays, NaN = invalid.

Window ``t`` covers hours ``t .. t+width-1``; ``starts`` is a slice over window starts.
Windows are summed directly (no running cumulative sums) so a mean of exact inputs stays
exact and breakpoint values grade exactly.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view as _view


def _windows(a: np.ndarray, width: int, starts: slice) -> np.ndarray:
    return _view(a, width, axis=1)[:, starts]


def window_count(a: np.ndarray, width: int, starts: slice = slice(None)) -> np.ndarray:
    """Number of finite values in each window."""
    return np.add.reduce(_windows(np.isfinite(a), width, starts), axis=-1, dtype=np.int16)


def window_mean(
    a: np.ndarray, width: int, min_valid: int, starts: slice = slice(None)
) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the finite values per window (NaN below ``min_valid``) and the count."""
    count = window_count(a, width, starts)
    total = np.add.reduce(_windows(np.nan_to_num(a, nan=0.0), width, starts), axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    return np.where(count >= min_valid, mean, np.nan), count


def window_max(a: np.ndarray, width: int, starts: slice = slice(None)) -> np.ndarray:
    """Maximum of the finite values per window (NaN if none)."""
    return np.fmax.reduce(_windows(a, width, starts), axis=-1)


def pad_to(a: np.ndarray, hours: int, lead: int = 0) -> np.ndarray:
    """Place ``a`` at column offset ``lead`` of a NaN array ``hours`` wide."""
    out = np.full((a.shape[0], hours), np.nan)
    out[:, lead : lead + a.shape[1]] = a
    return out


def trailing_mean(a: np.ndarray, width: int, min_valid: int) -> np.ndarray:
    """Mean over hours ``t-width+1 .. t`` for every hour ``t`` (NaN before enough history)."""
    mean, _ = window_mean(a, width, min_valid)
    return pad_to(mean, a.shape[1], lead=width - 1)


def max_8h_in_windows(
    m8: np.ndarray, span: int, starts: slice
) -> tuple[np.ndarray, np.ndarray]:
    """Max of the 8 h means starting inside each ``span``-hour window, and how many were valid."""
    inner = span - 7
    return window_max(m8, inner, starts), window_count(m8, inner, starts)
