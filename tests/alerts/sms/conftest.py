"""Fixtures of the SMS provider tests: the two provider fakes and an alert service on a real
database (the clock and service factory are tests/alerts/conftest.py's)."""
from __future__ import annotations

import httpx
import pytest

from alerts_platform_helpers import T0

from .fake_aliyun import FakeAliyun
from .fake_tencent import FakeTencent

# made-up credentials of the fakes (never real keys)
ALIYUN_KEY = ("LTAI5tFAKEKEYID0001", "fakeAliyunSecret0001")
TENCENT_KEY = ("AKIDFAKESECRETID0001", "fakeTencentSecretKey0001")
WALL = T0.timestamp()      # the providers' and the channels' "real" time in these tests


@pytest.fixture
def aliyun():
    f = FakeAliyun({ALIYUN_KEY[0]: ALIYUN_KEY[1]}, sign_names={"汾渭预警"},
                   templates={"SMS_465000001": {"level", "city", "subject", "text"}},
                   now=lambda: WALL)
    yield f
    f.close()


@pytest.fixture
def tencent():
    f = FakeTencent({TENCENT_KEY[0]: TENCENT_KEY[1]}, app_id="1400006666",
                    templates={"2123456": 4}, sign_names={"汾渭预警"}, now=lambda: WALL)
    yield f
    f.close()


@pytest.fixture
def http():
    c = httpx.Client()
    yield c
    c.close()
