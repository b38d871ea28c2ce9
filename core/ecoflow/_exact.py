"""Exact comparison of flows with their thresholds (issue 16 item 4).

``0.8 * 12`` is 9.600000000000001 in binary floating point, so a daily mean of exactly
9.6 m³/s compared with it reads "below 0.8 x target". Flows, targets and ratios are
turned into :class:`fractions.Fraction` through their decimal text rounded to ``DECIMALS``
places (1e-9 m³/s, far below any gauge's resolution, so float noise left by averaging,
such as 9.600000000000001 for 9.6, is not a difference), and products are exact.
"""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

DECIMALS = 9


def exact(x: float | int | str | Decimal | Fraction) -> Fraction:
    """``x`` as an exact rational, rounded to ``DECIMALS`` decimal places."""
    if isinstance(x, Fraction):
        return x
    if isinstance(x, (Decimal, str)):
        return Fraction(Decimal(x))
    return Fraction(Decimal(format(float(x), f".{DECIMALS}f")))


def below(q: float, threshold: Fraction) -> bool:
    """True when ``q`` is strictly below ``threshold`` (exact)."""
    return exact(q) < threshold


def at_least(q: float, target: float) -> bool:
    """True when ``q`` is at or above ``target`` (exact): the day meets its target."""
    return exact(q) >= exact(target)
