"""Per-station MQTT credentials: the ``credentials.json`` that ``fenwei broker config`` writes.

The file maps user names to clear-text passwords (``{"1462A": "...", "ingest": "..."}``); a
station's user name is its id. The agent takes the entries of its own stations and refuses to
start when one is missing, so no station falls back to a shared user the broker's per-station
ACL would refuse.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from .errors import ConfigError

log = logging.getLogger(__name__)


def load_credentials(path: Path, stations: list[str]) -> dict[str, str]:
    """``{station: password}`` for ``stations`` from ``path``; raises :class:`ConfigError`."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"edge.mqtt.credentials_file {path}: {exc}") from exc
    if not isinstance(doc, dict) or not all(isinstance(v, str) for v in doc.values()):
        raise ConfigError(f"edge.mqtt.credentials_file {path}: not a {{user: password}} "
                          "object as `fenwei broker config` writes")
    missing = sorted(set(stations) - set(doc))
    if missing:
        raise ConfigError(f"edge.mqtt.credentials_file {path}: no credential for station(s) "
                          f"{', '.join(missing)}")
    if path.stat().st_mode & 0o077:
        log.warning("%s is readable by other users (mode %o): chmod 600 it", path,
                    path.stat().st_mode & 0o777)
    return {s: doc[s] for s in stations}
