"""One engine factory for the state database the services share (alerts, API keys,
ecological-flow targets): ``sqlite:///path`` or ``postgresql://...``."""
from __future__ import annotations

from datetime import timezone

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .settings import SettingsError, mask_url


class UTC(sa.TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the state database")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else \
            value.astimezone(timezone.utc)


def make_engine(url: str) -> Engine:
    """An engine for ``sqlite:///path`` (WAL, ``synchronous=FULL``, ``BEGIN IMMEDIATE`` so writers queue rather than
    fail) or ``postgresql://...`` (psycopg2, pooled, pre-ping)."""
    if url.startswith("sqlite"):
        eng = sa.create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

        @sa.event.listens_for(eng, "connect")
        def _on_connect(dbapi_conn, _rec):
            dbapi_conn.isolation_level = None
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed transaction (an alert raised, a notification queued, an
            # acknowledgement) survives a power loss; NORMAL in WAL mode may lose it
            dbapi_conn.execute("PRAGMA synchronous=FULL")
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
