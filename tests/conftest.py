"""Shared fixtures: real Mosquitto, InfluxDB and PostgreSQL processes on free loopback ports
(PostgreSQL: another server when FENWEI_TEST_PG names one).

Under CI=true a service that cannot start is a test failure, never a skip.
"""
from __future__ import annotations

import os
import signal
import uuid
from contextlib import contextmanager

import pytest

from core.catalogue import load_catalogue
from core.localservers import InfluxDB, Mosquitto, PostgreSQL, ServerError

IN_CI = os.environ.get("CI", "").lower() == "true"


def _terminated(signum, frame):
    # SIGTERM (a CI timeout, a kill) ends the run like Ctrl-C: pytest then tears the
    # fixtures down, stopping the InfluxDB, Mosquitto and PostgreSQL processes the session
    # started
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
    admin = sa.create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT",
                             pool_pre_ping=True)   # a test may have restarted the server
    try:
        with admin.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield f"{base}/{name}"
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture
def postgresql(tmp_path):
    """A fresh PostgreSQL per test (tests may stop and restart it)."""
    try:
        server = PostgreSQL(tmp_path / "postgresql")
        server.start()
    except ServerError as exc:
        _unavailable("PostgreSQL", exc)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_base_url(tmp_path_factory):
    """The session's PostgreSQL base URL (no database): ``FENWEI_TEST_PG`` when set, otherwise
    a PostgreSQL process of the session's own (not the machine's server on 5432)."""
    base = os.environ.get("FENWEI_TEST_PG")
    if base:
        yield base.rstrip("/")
        return
    try:
        server = PostgreSQL(tmp_path_factory.mktemp("postgresql"))
        server.start()
    except ServerError as exc:
        _unavailable("PostgreSQL", exc)
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_base_url):
    """A fresh database on the session's PostgreSQL server for the session (dropped afterwards)."""
    cm = fresh_pg_database(postgres_base_url, "fenwei_t")
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


# the longest files first: with two workers (scripts/test, pytest-xdist --dist loadfile) they
# run beside the many short ones instead of after them
LONGEST_FIRST = ("tests/test_end_to_end.py", "tests/test_faults.py", "tests/test_packaging.py",
                 "tests/api/test_dashboard_browser.py", "tests/api/test_demo")


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: next((i for i, p in enumerate(LONGEST_FIRST)
                                      if item.nodeid.startswith(p)), len(LONGEST_FIRST)))
