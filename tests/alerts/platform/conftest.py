"""Fixtures of the alert platform tests: receivers and an SMTP server (the clock, state URL
and service factory are tests/alerts/conftest.py's, which puts this folder on the path)."""
from __future__ import annotations

import pytest

from alerts_platform_helpers import Receiver, SmtpSink


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def receiver2():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def smtp():
    s = SmtpSink()
    yield s
    s.close()
