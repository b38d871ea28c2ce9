"""SQLite alert state is durable on power loss: every connection runs ``synchronous=FULL``
(an acknowledged write is on disk before the commit returns; NORMAL in WAL mode is not)."""
from __future__ import annotations

import sqlalchemy as sa

from alerts._db import make_engine


def test_sqlite_state_uses_synchronous_full(sqlite_url):
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            # 2 = FULL (0 OFF, 1 NORMAL, 3 EXTRA)
            assert conn.execute(sa.text("PRAGMA synchronous")).scalar() == 2
            assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        engine.dispose()
