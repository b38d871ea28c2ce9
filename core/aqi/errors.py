"""Errors raised by the AQI engine.

    AqiError                 base class, carries no I/O state
    ├── TableError           the breakpoint data file is malformed (raised at import)
    └── InputError           a caller's frame, time or concentration cannot be graded
"""
from __future__ import annotations


class AqiError(Exception):
    """Base class of every AQI engine error."""


class TableError(AqiError):
    """The breakpoint data file is malformed; ``where`` names the offending entry."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


class InputError(AqiError):
    """Input that cannot be graded; ``field`` names what was wrong."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem
