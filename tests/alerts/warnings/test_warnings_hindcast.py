"""fenwei warnings hindcast on real data: Beijing, 20 November to 31 December 2015, 2024 grading,
perfect forecasts (--source observed), the rule's grader run at 00:00 CST each day.

City-mean daily PM2.5 of the twelve stations (calendar days, CST), µg/m³, and its IAQI
(HJ 633-2012 PM2.5 24 h breakpoints 150/250/350/500 at IAQI 200/300/400/500; PM2.5 is the
primary pollutant on all these days):
  27 Nov-1 Dec: 198, 254, 240, 312, 473 -> 200 + 48 = 248, 300 + 4 = 304, 290,
                300 + 62 = 362, 400 + 123 x 100/150 = 482: five days > 200, three > 300;
  7-9 Dec:      178, 242, 241 -> 228, 292, 291: three days > 200, none > 300;
  20-23 Dec:    193, 226, 287, 260 -> 243, 276, 337, 310: four days > 200, two > 300.
2024 grading (DOMAIN.md section 4; N calendar days above T count N x 24 h): red = AQI > 200
for >= 72 h and > 300 for >= 24 h (both episodes), orange = > 200 for >= 48 h (7-9 Dec:
72 h), yellow = > 200 for >= 24 h. With 96 h of perfect forecasts each warning is first
issued as yellow when one day > 200 enters the horizon, orange the day after (two days),
red once three days > 200 and one > 300 are in sight; it is lowered or lifted only when the
next 36 h stay below the trigger (lift_after 36 h): e.g. red from 26 Nov (the horizon
26-29 Nov holds 27, 28, 29 Nov > 200 and 28 Nov > 300) until 3 Dec (2 Dec PM2.5 mean
well below 150 and the following days too).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alerts.warnings.cli import app
from core.catalogue import load_catalogue
from core.store import open_store
from ingest.importer import Importer, name_lookup

ROOT = Path(__file__).resolve().parents[3]
EXTRA = ROOT / "docs" / "examples" / "catalogue-beijing"
DATA = ROOT / "tests" / "data" / "beijing-prsa"
FILES = sorted(DATA.glob("*.csv.gz")) + sorted((DATA / "hindcast").glob("*.csv.gz"))

# (level, issued day, lifted day or None, next level): every spell of the hindcast
EXPECTED = [
    ("yellow", "2015-11-24", "2015-11-25", "orange"),
    ("orange", "2015-11-25", "2015-11-26", "red"),
    ("red", "2015-11-26", "2015-12-03", None),        # covers 27 Nov - 1 Dec
    ("yellow", "2015-12-04", "2015-12-05", "orange"),
    ("orange", "2015-12-05", "2015-12-16", None),     # covers 7-9 Dec
    ("yellow", "2015-12-17", "2015-12-18", "orange"),
    ("orange", "2015-12-18", "2015-12-19", "red"),
    ("red", "2015-12-19", "2015-12-28", "orange"),    # covers 20-23 Dec
    ("orange", "2015-12-28", "2015-12-31", "red"),
    ("red", "2015-12-31", None, None),                # still in force at the end
]


@pytest.fixture(scope="module")
def store_url(tmp_path_factory):
    assert len(FILES) == 12, "the twelve Beijing stations' excerpts"
    url = f"duckdb://{tmp_path_factory.mktemp('hindcast') / 'bj.duckdb'}"
    cat = load_catalogue(extra=[EXTRA])
    store = open_store(url, cat)
    Importer(store, cat, progress=False).run("prsa", FILES, name_lookup(cat))
    store.close()
    return url


def run(store_url, monkeypatch, *args):
    monkeypatch.setenv("FENWEI_CATALOGUE_EXTRA", str(EXTRA))
    monkeypatch.setenv("FENWEI_STORE_URL", store_url)
    res = CliRunner().invoke(app, ["hindcast", "--city", "beijing", *args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_observed_hindcast_2024_lists_every_warning(store_url, monkeypatch):
    out = run(store_url, monkeypatch, "--start", "2015-11-20", "--end", "2016-01-01",
              "--source", "observed", "--grading", "2024")
    got = [(w["level"], w["issued"][:10], w["lifted"][:10] if w["lifted"] else None,
            w["next"]) for w in out]
    assert got == EXPECTED
    for w in out:
        assert set(w) >= {"level", "issued", "onset", "end", "lifted", "criteria"}
        assert w["issued"].endswith("+08:00") and w["grading"] == "hdq-2024-6"
    reds = [w for w in out if w["level"] == "red"]
    assert "AQI > 300" in reds[0]["criteria"]


@pytest.mark.parametrize("first, last, least", [
    ("2015-11-27", "2015-12-01", "red"), ("2015-12-20", "2015-12-23", "red"),
    ("2015-12-07", "2015-12-09", "orange")], ids=["27nov-1dec", "20-23dec", "7-9dec"])
def test_episodes_covered_at_their_level(store_url, monkeypatch, first, last, least):
    out = run(store_url, monkeypatch, "--start", "2015-11-20", "--end", "2016-01-01")
    rank = {"yellow": 1, "orange": 2, "red": 3}
    for day in (first, last):
        # a warning in force that day: issued before its end, lifted after its start
        held = [w for w in out if w["issued"][:10] < day and
                (w["lifted"] is None or w["lifted"][:10] > day)]
        assert held and rank[held[0]["level"]] >= rank[least], day


def test_2019_grading_is_no_stricter(store_url, monkeypatch):
    # 2019 yellow needs > 200 for 48 h (2024: 24 h): its first warning cannot come earlier
    a = run(store_url, monkeypatch, "--start", "2015-11-20", "--end", "2016-01-01")
    b = run(store_url, monkeypatch, "--start", "2015-11-20", "--end", "2016-01-01",
            "--grading", "2019")
    assert b and b[0]["issued"] >= a[0]["issued"]
    assert all(w["grading"] == "unified-2019" for w in b)


def test_bad_source_refused(store_url, monkeypatch):
    monkeypatch.setenv("FENWEI_CATALOGUE_EXTRA", str(EXTRA))
    res = CliRunner().invoke(app, ["hindcast", "--city", "beijing", "--start", "2015-11-20",
                                   "--end", "2015-12-01", "--source", "crystal-ball"])
    assert res.exit_code == 2
