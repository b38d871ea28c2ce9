"""Errors of the edge agent.

Hierarchy::

    EdgeError                 base of everything the agent raises
     ├── ConfigError          the agent's configuration (file or remote) is invalid; the message
     │                        names the setting
     └── QueueFullError       the durable queue refused a reading (policy ``reject_new``, or the
                              disk is full and nothing may be dropped)

Field-protocol problems are never raised: sessions count them with a reason and answer or drop.
"""
from __future__ import annotations


class EdgeError(Exception):
    """Base class of edge agent errors."""


class ConfigError(EdgeError, ValueError):
    """Invalid configuration; the message names the setting at fault."""


class QueueFullError(EdgeError):
    """The durable queue cannot take more readings under its configured policy."""
