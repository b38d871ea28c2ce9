"""Fenwei HTTP API. :func:`build_app` builds the app from settings (every entry point calls
it); :func:`create_app` assembles it from ready parts.

Public names are imported lazily so ``api.auth`` stays light.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "build_app": "._build",
    "create_app": ".app",
    "ApiSettings": "._settings",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'api' has no attribute {name!r}")
    return getattr(importlib.import_module(mod, __name__), name)
