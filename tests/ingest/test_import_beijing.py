"""Beijing end to end through a catalogue extra: import the PRSA excerpt, derive AQI, read it
back through the API (city and stations known, national grading applied to its data)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.auth import FailureLimiter, KeyStore, RateLimiter
from core.aqi import recompute
from core.catalogue import EXTRA_ENV, load_catalogue
from core.store import open_store
from ingest.importer.cli import app

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / "tests" / "data" / "beijing-prsa").glob("*.csv.gz"))
BEIJING = ROOT / "docs" / "examples" / "catalogue-beijing"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("bj")
    mp = pytest.MonkeyPatch()
    mp.setenv(EXTRA_ENV, str(BEIJING))
    cat = load_catalogue()
    url = f"duckdb://{d / 'bj.duckdb'}"
    res = CliRunner().invoke(app, ["prsa", *map(str, FILES), "--store-url", url, "--state",
                                   str(d / "s.json"), "--json"])
    assert res.exit_code == 0, res.output
    store = open_store(url, cat)
    recompute(store, cat, datetime(2015, 11, 30, 16, tzinfo=timezone.utc),
              datetime(2015, 12, 2, 16, tzinfo=timezone.utc))
    keys = KeyStore(f"sqlite:///{d / 'state.db'}")
    token = keys.create("t", "inspector", None)[1]
    client = TestClient(create_app(store, cat, keys, limiter=RateLimiter(1000, 1000),
                                   auth_failures=FailureLimiter(1000, 1000)))
    yield client, {"Authorization": f"Bearer {token}"}
    store.close()
    mp.undo()


def test_beijing_city_and_stations_through_the_api(env):
    client, auth = env
    city = client.get("/cities/beijing", headers=auth).json()
    assert city["gb2260"] == "110000" and city["province"] == "Beijing"
    assert city["stations"] == [f"{n}A" for n in range(1001, 1013)]
    st = client.get("/stations/1003A", headers=auth).json()
    assert (st["name_en"], st["national"], st["simulated"]) == ("Dongsi", True, False)


def test_beijing_daily_aqi_on_1_december_2015(env):
    # The CST day 1 December 2015 holds the hours labelled 1..23 and 2 December 0 (the
    # hour H is H-1..H). PM2.5 in the files over those 24 hours:
    #   Dongsi  454 507 487 424 418 427 451 538 640 624 628 637 680 678 671 543 444 415 396
    #           398 407 396 391 80 -> 11734 / 24 = 488.92
    #   Huairou 371 372 365 365 369 363 374 376 382 380 397 456 512 509 534 545 559 551 498
    #           480 525 529 503 445 -> 10760 / 24 = 448.33
    # HJ 633-2012 PM2.5 24 h: 350 -> IAQI 400, 500 -> 500 (DOMAIN.md), so
    #   Dongsi  IAQI = 400 + (488.92 - 350) x 100 / 150 = 492.6 -> 493
    #   Huairou IAQI = 400 + (448.33 - 350) x 100 / 150 = 465.6 -> 466
    #   city (mean of the two 24 h means, 468.63): 400 + 118.63 x 100 / 150 = 479.1 -> 480
    # PM10 stays below those IAQI, so PM2.5 is primary and the AQI; above 300: severe (VI)
    client, auth = env
    want = {"1003A": ("station", 493), "1009A": ("station", 466), "beijing": ("city", 480)}
    for key, (scope, aqi) in want.items():
        body = client.get("/aqi/history", headers=auth, params={
            "id": key, "scope": scope, "period": "daily", "start": "2015-12-01T00:00+08:00",
            "end": "2015-12-02T00:00+08:00"}).json()
        assert [(r["time"], r["aqi"], r["primary"], r["category"], r["edition"])
                for r in body["rows"]] == [("2015-12-01T00:00:00+08:00", aqi, "pm25", "VI",
                                            "2012")], key
