"""A short simulated season with a few basin cities, trained once per test session."""
from datetime import datetime, timedelta

import pytest

from core.timeutil import CST
from forecasting.bench import SCORE_START, TEST_START, simulated_service

CITIES = ["xian", "xianyang", "weinan", "baoji", "linfen", "yuncheng", "luoyang", "tianshui"]
TEST_DAYS = 60


@pytest.fixture(scope="session")
def small(tmp_path_factory):
    """(service, panel, feature builder, model) over 110 + 60 simulated days."""
    svc, truths = simulated_service(0, str(tmp_path_factory.mktemp("registry")),
                                    train_days=110, test_days=TEST_DAYS, cities=CITIES)
    end = TEST_START + timedelta(days=TEST_DAYS)
    panel, fb = svc.air_panel(datetime(2025, 10, 15, tzinfo=CST), end)
    model = svc.fit_air(fb, panel.pos(SCORE_START))
    return svc, panel, fb, model
