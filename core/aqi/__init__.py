"""AQI engine (HJ 633-2012 / HJ 633-2026): IAQI, AQI, categories, hourly/daily/rolling frames.

Breakpoint tables are data (``breakpoints.json``), keyed by the date each edition comes
into force; the edition is chosen by the start of the averaging period in CST.
"""
from __future__ import annotations

from ._city import city_aqi, city_concentrations
from ._derived import load_hourly, recompute
from ._engine import DEFAULT_VALIDITY, Validity, daily_aqi, hourly_aqi, rolling_aqi
from ._scalar import AqiResult, calculate, category_of, iaqi
from ._tables import CATEGORIES, CST, EDITIONS, Category, Edition, Table, edition_at
from .errors import AqiError, InputError, TableError

__all__ = [
    "AqiError",
    "AqiResult",
    "CATEGORIES",
    "CST",
    "Category",
    "DEFAULT_VALIDITY",
    "EDITIONS",
    "Edition",
    "InputError",
    "Table",
    "TableError",
    "Validity",
    "calculate",
    "category_of",
    "city_aqi",
    "city_concentrations",
    "daily_aqi",
    "edition_at",
    "hourly_aqi",
    "iaqi",
    "load_hourly",
    "recompute",
    "rolling_aqi",
]
