"""Remote configuration from the retained ``fenwei/v1/{city}/{kind}/{station}/config`` topic.

Payload: a JSON object ``{"interval_s": 60, "qc": {"spike": {"pm25": 300}, "stuck_count": 8,
"max_skew_s": 120, "backfill_grace_s": 900, "stuck_params": ["pm25"]}}`` (every key optional;
``qc`` keys override the file's ``[edge.qc]``). An empty payload (the retained message cleared)
returns to the file's configuration. An invalid payload is rejected whole: the old
configuration stays and the status topic reports the error.
"""
from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timezone
from typing import Callable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.catalogue import Catalogue, Station
from core.wire import iso

from ._config import QcConfig
from ._qc import QualityControl
from ._stats import Stats

log = logging.getLogger(__name__)


class RemoteConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    interval_s: int | None = Field(None, ge=1, le=86400)
    qc: dict = Field(default_factory=dict)


class RemoteConfigurator:
    """Validates and applies remote configuration; remembers what happened per station."""

    def __init__(self, catalogue: Catalogue, defaults: QcConfig, qc: QualityControl,
                 stats: Stats, on_interval: Callable[[str, int], None] | None = None) -> None:
        self._cat, self._defaults, self._qc, self._stats = catalogue, defaults, qc, stats
        self._on_interval = on_interval
        self._state: dict[str, dict] = {}
        self._lock = threading.Lock()

    def state(self, station: str) -> dict:
        with self._lock:
            return dict(self._state.get(station, {"state": "file"}))

    def apply(self, station: Station, payload: bytes) -> bool:
        now = iso(datetime.now(timezone.utc))
        if not payload.strip():
            self._qc.set_config(station.id, self._defaults)
            self._set(station.id, {"state": "file", "at": now})
            return True
        try:
            remote, qc = self._parse(station, payload)
        except ValueError as exc:
            self._stats.inc("config.rejected", station=station.id)
            log.warning("station %s: remote config rejected, old config stays: %s",
                        station.id, exc)
            with self._lock:
                old = self._state.get(station.id, {"state": "file"})
                self._state[station.id] = {**old, "error": str(exc)[:500], "rejected_at": now}
            return False
        self._qc.set_config(station.id, qc)
        self._stats.inc("config.applied", station=station.id)
        self._set(station.id, {"state": "remote", "at": now,
                               "applied": json.loads(payload)})
        log.info("station %s: remote config applied", station.id)
        if remote.interval_s is not None and self._on_interval is not None:
            self._on_interval(station.id, remote.interval_s)
        return True

    def _set(self, station: str, state: dict) -> None:
        with self._lock:
            self._state[station] = state

    def _parse(self, station: Station, payload: bytes) -> tuple[RemoteConfig, QcConfig]:
        try:
            doc = json.loads(payload)
            remote = RemoteConfig.model_validate(doc)
            merged = {**self._defaults.model_dump(), **remote.qc}
            if isinstance(remote.qc.get("spike"), dict):
                merged["spike"] = {**self._defaults.spike, **remote.qc["spike"]}
            qc = QcConfig.model_validate(merged)
        except (ValueError, ValidationError) as exc:
            msg = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            loc = ".".join(map(str, exc.errors()[0]["loc"])) if isinstance(
                exc, ValidationError) else ""
            raise ValueError(f"{loc}: {msg}" if loc else msg) from None
        names = set(remote.qc.get("spike", {})) | set(remote.qc.get("stuck_params", ()))
        bad = sorted(n for n in names if n not in self._cat.parameters
                     or self._cat.parameters[n].kind != station.kind)
        if bad:
            raise ValueError(f"not {station.kind} parameters: {bad}")
        return remote, qc
