"""Shared fixtures: real Mosquitto and InfluxDB processes on free loopback ports, PostgreSQL.

Under CI=true a service that cannot start is a test failure, never a skip.
"""
from __future__ import annotations

import os
import uuid

import pytest

from core.catalogue import load_catalogue
from core.localservers import InfluxDB, Mosquitto, ServerError

IN_CI = os.environ.get("CI", "").lower() == "true"


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


@pytest.fixture(scope="session")
def postgres_url():
    """A fresh database on the machine's PostgreSQL server (dropped afterwards)."""
    import sqlalchemy as sa
    base = os.environ.get("FENWEI_TEST_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432")
    name = f"fenwei_t_{uuid.uuid4().hex[:8]}"
    try:
        admin = sa.create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        _unavailable("PostgreSQL", exc)
    yield f"{base}/{name}"
    with admin.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
