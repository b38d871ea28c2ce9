"""Retention of raw readings: an InfluxDB retention policy created (or altered) at start."""
from __future__ import annotations

import logging

from core.store import InfluxStore, Store

log = logging.getLogger(__name__)


def apply_retention(store: Store, duration: str, policy: str = "autogen") -> str | None:
    """Make ``policy`` the database's default RP with ``duration`` (``INF`` = forever).

    Returns the statement run, or None when the store has no retention policies (DuckDB,
    InfluxDB 2.x buckets: set the bucket's retention there).
    """
    if not isinstance(store, InfluxStore) or store.v2:
        return None
    db = store.db
    existing = {row[0] for s in store.select("SHOW RETENTION POLICIES") for row in s["values"]}
    verb = "ALTER" if policy in existing else "CREATE"
    stmt = (f'{verb} RETENTION POLICY "{policy}" ON "{db}" DURATION {duration} '
            f"{'REPLICATION 1 ' if verb == 'CREATE' else ''}DEFAULT")
    store.command(stmt)
    log.info("retention: %s", stmt)
    return stmt
