"""Errors of the firmware simulator.

Hierarchy::

    ValueError
     └── SimError            anything the simulator refuses
          ├── ScenarioError  a scenario file is missing, malformed or inconsistent
          └── TargetError    a HOST:PORT target cannot be parsed
"""
from __future__ import annotations


class SimError(ValueError):
    """The simulator refuses a configuration or an argument."""


class ScenarioError(SimError):
    """A scenario is unknown, malformed or names unknown stations."""


class TargetError(SimError):
    """A target is not HOST:PORT."""
