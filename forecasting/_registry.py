"""Versioned model artefacts on disk: ``<root>/<kind>/<version>/{model.joblib, meta.json}``.

``<root>/<kind>/CURRENT`` names the version in service. A candidate replaces it only when
its backtest score (lower is better) beats the current one's (:meth:`Registry.consider`).
Loading an artefact saved by another scikit-learn (or numpy major) version raises
:class:`ModelIncompatible`; callers fall back to the baseline.
"""
from __future__ import annotations

import json
import logging
import platform
import warnings
from datetime import datetime, timezone
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import sklearn

from .errors import ModelIncompatible, RegistryError

log = logging.getLogger(__name__)


def library_versions() -> dict[str, str]:
    return {"sklearn": sklearn.__version__, "numpy": np.__version__,
            "pandas": pd.__version__, "joblib": joblib.__version__,
            "python": platform.python_version()}


def _compatible(made: dict) -> dict:
    """The library versions that must match for a pickle to be trusted."""
    run = library_versions()
    return {"sklearn": run["sklearn"], "numpy": run["numpy"].split(".")[0]}, \
        {"sklearn": made.get("sklearn"), "numpy": str(made.get("numpy", "")).split(".")[0]}


class Registry:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        # a saved version never changes: the last one loaded per kind is kept (a forecast
        # process loaded it from disk at every issue)
        self._loaded: dict[str, tuple[str, object, dict]] = {}

    def _dir(self, kind: str, version: str | None = None) -> Path:
        return self.root / kind / version if version else self.root / kind

    def versions(self, kind: str) -> list[str]:
        d = self._dir(kind)
        return sorted(p.name for p in d.iterdir() if (p / "meta.json").exists()) \
            if d.exists() else []

    def save(self, kind: str, model, meta: dict, now: datetime | None = None) -> str:
        now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
        version = f"{kind}-{now:%Y%m%dT%H%M%SZ}-{len(self.versions(kind)) + 1:03d}"
        d = self._dir(kind, version)
        d.mkdir(parents=True, exist_ok=False)
        joblib.dump(model, d / "model.joblib", compress=3)
        meta = {**meta, "kind": kind, "version": version, "created": now.isoformat(),
                "libraries": library_versions()}
        (d / "meta.json").write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
        log.info("model saved: kind=%s version=%s", kind, version)
        return version

    def meta(self, kind: str, version: str) -> dict:
        try:
            return json.loads((self._dir(kind, version) / "meta.json").read_text("utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise RegistryError(f"cannot read metadata of {kind} model {version}: {exc}") from exc

    def current_version(self, kind: str) -> str | None:
        f = self._dir(kind) / "CURRENT"
        return f.read_text("utf-8").strip() or None if f.exists() else None

    def promote(self, kind: str, version: str) -> None:
        if version not in self.versions(kind):
            raise RegistryError(f"no {kind} model {version}")
        tmp = self._dir(kind) / "CURRENT.tmp"
        tmp.write_text(version, encoding="utf-8")
        tmp.replace(self._dir(kind) / "CURRENT")
        log.info("model promoted: kind=%s version=%s", kind, version)

    def load(self, kind: str, version: str | None = None):
        """(model, meta) of ``version`` (default: current). Raises RegistryError."""
        version = version or self.current_version(kind)
        if not version:
            raise RegistryError(f"no current {kind} model in {self.root}")
        hit = self._loaded.get(kind)
        if hit is not None and hit[0] == version:
            return hit[1], hit[2]
        meta = self.meta(kind, version)
        running, made = _compatible(meta.get("libraries", {}))
        if running != made:
            raise ModelIncompatible(version, made, running)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", sklearn.exceptions.InconsistentVersionWarning)
                model = joblib.load(self._dir(kind, version) / "model.joblib")
        except sklearn.exceptions.InconsistentVersionWarning as exc:
            raise ModelIncompatible(version, {"sklearn": exc.original_sklearn_version},
                                    {"sklearn": sklearn.__version__}) from exc
        except Exception as exc:  # noqa: BLE001 - any unpickling failure is the same to us
            raise RegistryError(f"cannot load {kind} model {version}: {exc}") from exc
        self._loaded[kind] = (version, model, meta)
        return model, meta

    def consider(self, kind: str, version: str, metric: str,
                 current_score: float | None = None) -> bool:
        """Promote ``version`` if its ``backtest[metric]`` beats the current model's.

        ``current_score``: the current model scored on the candidate's backtest period (fair
        comparison); default: the score stored in the current model's metadata."""
        new = self.meta(kind, version).get("backtest", {}).get(metric)
        cur_v = self.current_version(kind)
        if new is None or not np.isfinite(new):
            log.warning("candidate without score kept out: version=%s metric=%s", version, metric)
            return False
        if cur_v:
            try:
                self.load(kind, cur_v)
                old = current_score if current_score is not None else \
                    self.meta(kind, cur_v).get("backtest", {}).get(metric)
            except RegistryError as exc:
                log.warning("current model unusable, replacing it: %s", exc)
                old = None
            if old is not None and np.isfinite(old) and new >= old:
                log.info("candidate not better: version=%s %s=%.3f current=%s %.3f",
                         version, metric, new, cur_v, old)
                return False
        self.promote(kind, version)
        return True
