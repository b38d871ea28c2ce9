"""Store errors.

StoreError
 ├── StoreUnavailable   retryable: connection refused, timeout, 5xx, 401/403/429, a missing
 │                      database (404): outages, never a reason to dead-letter
 ├── StoreRejected      permanent: the store refused the data itself (400: unparsable,
 │                      field type conflict, beyond retention; 413): bisected, dead-lettered
 ├── QueryTooLarge      the query would exceed the configured bound
 └── QueryError         the query itself is invalid (bad station id, parameter, range)
"""
from __future__ import annotations


class StoreError(Exception):
    """Base class of store errors."""


class StoreUnavailable(StoreError):
    """The store cannot be reached right now; retrying later may succeed."""


class StoreRejected(StoreError):
    """The store refused (part of) a write; retrying the same data will fail again."""

    def __init__(self, message: str, bad_lines: list[int] | None = None) -> None:
        super().__init__(message)
        self.bad_lines = bad_lines or []


class QueryTooLarge(StoreError):
    """The query would return more rows than allowed; narrow the range or selection."""


class QueryError(StoreError):
    """The query is invalid."""
