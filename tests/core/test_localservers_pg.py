"""core.localservers.PostgreSQL: a server of the harness's own, which it can stop and restart."""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa


def _engine(server):
    return sa.create_engine(f"{server.url}/postgres", pool_pre_ping=True)


def test_table_survives_stop_and_start(postgresql):
    engine = _engine(postgresql)
    try:
        with engine.begin() as c:
            c.execute(sa.text("CREATE TABLE readings (station text, pm25 int)"))
            c.execute(sa.text("INSERT INTO readings VALUES ('1001A', 75)"))
        postgresql.stop()
        assert not postgresql.running
        with pytest.raises(sa.exc.OperationalError):
            with engine.connect():
                pass
        postgresql.start()
        with engine.connect() as c:
            assert c.execute(sa.text("SELECT * FROM readings")).all() == [("1001A", 75)]
    finally:
        engine.dispose()


def test_restart_with_a_client_connected_is_quick(postgresql):
    """Fast shutdown ends open sessions rather than waiting for them to leave."""
    engine = _engine(postgresql)
    try:
        with engine.begin() as c:
            c.execute(sa.text("CREATE TABLE t (x int)"))
        held = engine.connect()
        started = time.monotonic()
        postgresql.restart()
        assert time.monotonic() - started < 10
        held.invalidate()
        held.close()
        with engine.connect() as c:
            assert c.execute(sa.text("SELECT count(*) FROM t")).scalar() == 0
    finally:
        engine.dispose()


def test_listens_on_loopback_only_with_test_settings(postgresql):
    engine = _engine(postgresql)
    try:
        with engine.connect() as c:
            show = {k: c.execute(sa.text(f"SHOW {k}")).scalar()
                    for k in ("listen_addresses", "port", "fsync")}
    finally:
        engine.dispose()
    assert show == {"listen_addresses": "127.0.0.1", "port": str(postgresql.port),
                    "fsync": "off"}
