"""Store errors.

StoreError
 ├── StoreUnavailable   retryable: connection refused, timeout, 5xx
 ├── StoreRejected      permanent: the store refused the data (400, type conflict, retention)
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
