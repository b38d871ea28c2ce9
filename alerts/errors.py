"""Errors of the alert platform.

    AlertsError
    ├── ConfigError        a rules file, recipients file or setting is invalid
    ├── NotFound           no such alert / silence
    ├── InvalidTransition  the alert's state does not allow the operation (e.g. ack a resolved alert)
    ├── BadToken           an acknowledgement link token is forged, malformed or expired
    └── DeliveryError      one delivery attempt failed
        └── PermanentDeliveryError   retrying cannot help (HTTP 4xx other than 408/429, bad address)
"""
from __future__ import annotations


class AlertsError(Exception):
    """Base of every error raised by the alert platform."""


class ConfigError(AlertsError):
    """A configuration file or setting is invalid; the message names it."""


class NotFound(AlertsError):
    """No such alert or silence."""


class InvalidTransition(AlertsError):
    """The alert's current state does not allow this operation."""


class BadToken(AlertsError):
    """An acknowledgement token is forged, malformed or expired."""


class DeliveryError(AlertsError):
    """One delivery attempt failed and may be retried."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class PermanentDeliveryError(DeliveryError):
    """A delivery failure that retrying cannot fix."""
