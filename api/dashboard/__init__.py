"""The dashboard: a static single page served by the API under ``/dashboard/``.

The page calls the same API with the key the user pastes (``Authorization: Bearer``) and
follows ``/events`` live. Its JavaScript and CSS live beside this file; ECharts is installed
from npm into ``node_modules/`` by ``scripts/setup``, copied into ``vendor/echarts/`` when the
package is built (setup.py) and served from here (the packaged copy first), never from a CDN.
"""
from __future__ import annotations

from ._router import ASSETS, DASHBOARD_DIR, ECHARTS_JS, router

__all__ = ["ASSETS", "DASHBOARD_DIR", "ECHARTS_JS", "router"]
