"""Layers point one way: every import of a Fenwei package, read from the source (static, so an
import inside a function counts too), goes to a package at the same level or below.

    core                                   (imports no service)
    edge, ingest                           (core)
    firmware_sim                           (core, edge: it speaks the field protocols)
    forecasting                            (core, firmware_sim: its simulated training seasons)
    alerts                                 (core, forecasting)
    api                                    (core, alerts, forecasting; never edge, ingest,
                                            firmware_sim)
    stack                                  (the composition root: everything)

No service imports another's private module (``pkg._name`` or ``pkg.sub._name``).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {
    "core": set(),
    "edge": {"core"},
    "ingest": {"core"},
    "firmware_sim": {"core", "edge"},
    "forecasting": {"core", "firmware_sim"},
    "alerts": {"core", "forecasting"},
    "api": {"core", "alerts", "forecasting"},
    "stack": {"core", "edge", "ingest", "firmware_sim", "forecasting", "alerts", "api"},
}


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
            for alias in node.names:   # ``from pkg import _private``
                yield node.lineno, f"{node.module}.{alias.name}"


def _edges():
    for pkg in ALLOWED:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            for line, name in _imports(path):
                top = name.split(".")[0]
                if top in ALLOWED and top != pkg:
                    yield pkg, path.relative_to(ROOT), line, name


def test_packages_import_only_downwards():
    bad = [f"{rel}:{line} imports {name} ({pkg} may import only "
           f"{', '.join(sorted(ALLOWED[pkg])) or 'no service'})"
           for pkg, rel, line, name in _edges() if name.split(".")[0] not in ALLOWED[pkg]]
    assert not bad, "\n".join(bad)


def test_no_private_module_of_another_package():
    bad = [f"{rel}:{line} imports {name}" for pkg, rel, line, name in _edges()
           if any(part.startswith("_") and not part.startswith("__")
                  for part in name.split(".")[1:])]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("pkg", ["api", "stack"])
def test_the_checker_sees_imports(pkg):
    """The walk finds real imports (a checker that saw none would pass anything)."""
    assert any(p == pkg for p, *_ in _edges())
