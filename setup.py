"""Build hook: the wheel carries ECharts for the dashboard.

Everything else about the package is in pyproject.toml. ``scripts/setup`` installs ECharts
with ``npm ci`` into ``api/dashboard/node_modules``; at build time its ``dist/echarts.min.js``,
``package.json``, ``LICENSE`` and ``NOTICE`` are copied into ``api/dashboard/vendor/echarts/``
(git-ignored), which the wheel and the sdist carry and ``api/dashboard/_router.py`` serves
first. Building from an sdist finds the copy already there. Without either, the build stops
and says how to get ECharts.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

DASHBOARD = Path(__file__).resolve().parent / "api" / "dashboard"
NPM_ECHARTS = DASHBOARD / "node_modules" / "echarts"
VENDOR = DASHBOARD / "vendor" / "echarts"
# Kept in npm's layout: package.json says which version it is; Apache-2.0 wants LICENSE, NOTICE.
FILES = ("dist/echarts.min.js", "package.json", "LICENSE", "NOTICE")


def vendor_echarts() -> None:
    """Copy ECharts from node_modules into api/dashboard/vendor/ (kept if already there)."""
    missing = [str(NPM_ECHARTS / name) for name in FILES if not (NPM_ECHARTS / name).is_file()]
    if not missing:
        for name in FILES:
            (VENDOR / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(NPM_ECHARTS / name, VENDOR / name)
        return
    if all((VENDOR / name).is_file() for name in FILES):
        return  # building from an sdist: the copy travelled with it
    raise SystemExit(
        "fenwei build: ECharts for the dashboard is missing (" + ", ".join(missing) + "). "
        "Run `npm ci --prefix api/dashboard` (scripts/setup does) before building the package.")


class BuildPyWithECharts(build_py):
    def run(self) -> None:
        # An editable install (`pip install -e .`, which scripts/setup runs before `npm ci`)
        # serves node_modules straight from the checkout: nothing to copy.
        if not getattr(self, "editable_mode", False):
            vendor_echarts()
        super().run()


class SdistWithECharts(sdist):
    def run(self) -> None:
        vendor_echarts()
        super().run()


setup(cmdclass={"build_py": BuildPyWithECharts, "sdist": SdistWithECharts})
