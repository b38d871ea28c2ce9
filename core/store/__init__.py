"""The time-series store port and its two adapters (InfluxDB, embedded DuckDB)."""
from __future__ import annotations

from urllib.parse import unquote

from ..catalogue import Catalogue, load_catalogue
from ._duckdb import DuckDBStore
from ._influx import InfluxStore
from ._lineproto import lines, reading_line
from ._port import DEFAULT_MAX_ROWS, EVERY, Store
from .errors import QueryError, QueryTooLarge, StoreError, StoreRejected, StoreUnavailable


def open_store(url: str, catalogue: Catalogue | None = None, *,
               max_rows: int = DEFAULT_MAX_ROWS) -> Store:
    """Open the store named by a ``FENWEI_STORE_URL``."""
    cat = catalogue or load_catalogue()
    scheme = url.split("://", 1)[0]
    if scheme == "duckdb":
        # duckdb:///abs/path.duckdb (absolute), duckdb://rel/path.duckdb, duckdb://:memory:
        path = unquote(url[len("duckdb://"):]) or ":memory:"
        return DuckDBStore(path, cat, max_rows=max_rows)
    if scheme.startswith("influxdb"):
        return InfluxStore(url, cat, max_rows=max_rows)
    raise StoreError(f"unsupported store URL scheme {scheme!r}")


__all__ = ["DEFAULT_MAX_ROWS", "DuckDBStore", "EVERY", "InfluxStore", "QueryError",
           "QueryTooLarge", "Store", "StoreError", "StoreRejected", "StoreUnavailable",
           "lines", "open_store", "reading_line"]
