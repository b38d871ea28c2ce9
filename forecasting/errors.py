"""Errors of the forecasting service.

Hierarchy::

    ValueError
     └── ForecastError          anything the forecasting service refuses
          ├── NoForecast        no stored forecast (or not enough history) for the request
          ├── RegistryError     the model registry is missing, corrupt or inconsistent
          │    └── ModelIncompatible  an artefact was written by other library versions
          └── FeedError         a meteorological forecast feed cannot serve the request
"""
from __future__ import annotations


class ForecastError(ValueError):
    """The forecasting service refuses a request or a configuration."""


class NoForecast(ForecastError):
    """No forecast, or not enough history to make one."""


class RegistryError(ForecastError):
    """The model registry cannot serve the request."""


class ModelIncompatible(RegistryError):
    """A stored model was made by library versions this process cannot trust."""

    def __init__(self, version: str, made_with: dict, running: dict) -> None:
        diff = {k: (made_with.get(k), running.get(k)) for k in running
                if made_with.get(k) != running.get(k)}
        detail = ", ".join(f"{k} {a} (model) vs {b} (installed)" for k, (a, b) in diff.items())
        super().__init__(f"model {version} was saved with different library versions: {detail}; "
                         "retrain it with `fenwei forecast train` (falling back to the baseline)")
        self.version, self.diff = version, diff


class FeedError(ForecastError):
    """A meteorological forecast feed cannot serve the request."""
