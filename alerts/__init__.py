"""Fenwei alert platform: rules, a durable alert lifecycle, delivery with proof of receipt.

Public names are imported lazily so ``core.aqi`` stays light.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "AlertService": "._service",
    "AlertState": "._state",
    "regional_link": "._notify",
    "AlertSettings": "._config",
    "RuleSet": "._config",
    "load_rules": "._config",
    "parse_rules": "._config",
    "Directory": "._directory",
    "Recipient": "._directory",
    "load_directory": "._directory",
    "ManualClock": "._clock",
    "SystemClock": "._clock",
    "FuncClock": "._clock",
    "Signal": ".rules",
    "RULE_TYPES": ".rules",
    "CHANNEL_TYPES": ".channels",
    "Broadcaster": ".channels",
    "build_cap": "._cap",
    "AckSigner": "._ack",
    "LEVELS": "._levels",
    "packaged_rules": "._packaged",
    "rule_floor_s": "._packaged",
    "FORECAST_GRADING": "._packaged",
    "LIVENESS": "._packaged",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'alerts' has no attribute {name!r}")
    return getattr(importlib.import_module(mod, __name__), name)
