"""One engine factory for the state database the services share (alerts, API keys,
ecological-flow targets): ``sqlite:///path`` or ``postgresql://...``."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .settings import SettingsError, mask_url


def make_engine(url: str) -> Engine:
    """An engine for ``sqlite:///path`` (WAL, ``BEGIN IMMEDIATE`` so writers queue rather than
    fail) or ``postgresql://...`` (psycopg2, pooled, pre-ping)."""
    if url.startswith("sqlite"):
        eng = sa.create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

        @sa.event.listens_for(eng, "connect")
        def _on_connect(dbapi_conn, _rec):
            dbapi_conn.isolation_level = None
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
            dbapi_conn.execute("PRAGMA synchronous=NORMAL")
            dbapi_conn.execute("PRAGMA busy_timeout=60000")

        @sa.event.listens_for(eng, "begin")
        def _on_begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        return eng
    if url.startswith("postgresql"):
        url = url.replace("postgresql://", "postgresql+psycopg2://", 1)
        return sa.create_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True)
    raise SettingsError(f"FENWEI_STATE_URL: unsupported {mask_url(url)!r} "
                        "(use sqlite:///PATH or postgresql://...)")
