"""Shared fixtures: real Mosquitto and InfluxDB processes on free loopback ports, PostgreSQL.

Under CI=true a service that cannot start is a test failure, never a skip.
"""
from __future__ import annotations

import os
import signal
import uuid
from contextlib import contextmanager

import pytest

from core.catalogue import load_catalogue
from core.localservers import InfluxDB, Mosquitto, ServerError

IN_CI = os.environ.get("CI", "").lower() == "true"


def _terminated(signum, frame):
    # SIGTERM (a CI timeout, a kill) ends the run like Ctrl-C: pytest then tears the
    # fixtures down, stopping the InfluxDB and Mosquitto processes the session started
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config):
    signal.signal(signal.SIGTERM, _terminated)


def _unavailable(what: str, exc: Exception):
    if IN_CI:
        pytest.fail(f"{what} could not be started under CI: {exc}", pytrace=False)
    pytest.skip(f"{what} unavailable: {exc}")


@pytest.fixture(scope="session")
def catalogue():
    return load_catalogue()


@pytest.fixture(scope="session")
def influxdb_server(tmp_path_factory):
    """One InfluxDB process for the session; tests use their own database names."""
    server = InfluxDB(tmp_path_factory.mktemp("influxdb"))
    try:
        server.start()
    except ServerError as exc:
        _unavailable("InfluxDB", exc)
    yield server
    server.stop()


@pytest.fixture
def influx_url(influxdb_server):
    """A fresh, empty database on the session's InfluxDB."""
    return influxdb_server.store_url(f"t_{uuid.uuid4().hex[:10]}")


@pytest.fixture
def mosquitto(tmp_path):
    """A fresh Mosquitto per test (tests may stop and restart it)."""
    server = Mosquitto(tmp_path / "mosquitto")
    try:
        server.start()
    except ServerError as exc:
        _unavailable("Mosquitto", exc)
    yield server
    server.stop()


@contextmanager
def fresh_pg_database(base: str, prefix: str):
    """Create an empty database on the PostgreSQL server at ``base``; drop it afterwards."""
    import sqlalchemy as sa
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield f"{base}/{name}"
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url():
    """A fresh database on the machine's PostgreSQL server for the session (dropped afterwards)."""
    base = os.environ.get("FENWEI_TEST_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432")
    cm = fresh_pg_database(base, "fenwei_t")
    try:
        url = cm.__enter__()
    except Exception as exc:  # noqa: BLE001
        _unavailable("PostgreSQL", exc)
    yield url
    cm.__exit__(None, None, None)


@pytest.fixture
def pg_url(postgres_url):
    """A fresh, empty database per test on the session's PostgreSQL server."""
    with fresh_pg_database(postgres_url.rpartition("/")[0], "fenwei_pt") as url:
        yield url
