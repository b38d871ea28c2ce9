"""Catalogue extras: cities and stations added from a folder, for every command."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.catalogue import EXTRA_ENV, CatalogueError, load_catalogue
from core.cli import take_catalogue_extra, use_catalogue_extra

ROOT = Path(__file__).resolve().parents[2]
BEIJING = ROOT / "docs" / "examples" / "catalogue-beijing"
PRSA = {"1001A": "Wanshouxigong", "1002A": "Dingling", "1003A": "Dongsi", "1004A": "Tiantan",
        "1005A": "Nongzhanguan", "1006A": "Guanyuan", "1007A": "Wanliu", "1008A": "Shunyi",
        "1009A": "Huairou", "1010A": "Changping", "1011A": "Aotizhongxin",
        "1012A": "Gucheng"}


def test_beijing_example_adds_a_city_and_its_12_national_stations():
    cat = load_catalogue(extra=[BEIJING])
    city = cat.city("beijing")
    assert (city.gb2260, city.province, city.fenwei, city.guanzhong) == \
        ("110000", "Beijing", False, False)
    bj = cat.stations_of("beijing", "air")
    assert {s.id: s.name_en for s in bj} == PRSA
    assert all(s.national and not s.simulated and s.interval_s == 3600 for s in bj)
    assert all(39.4 < s.lat < 41.1 and 115.4 < s.lon < 117.5 for s in bj)   # Beijing's extent
    assert set(PRSA) <= {s.id for s in cat.aqi_stations()}
    packaged = load_catalogue()
    assert set(cat.stations) - set(packaged.stations) == set(PRSA)
    assert "beijing" not in packaged.cities


def test_the_variable_names_extras_and_the_result_is_cached(monkeypatch, tmp_path):
    monkeypatch.setenv(EXTRA_ENV, str(BEIJING))
    assert "beijing" in load_catalogue().cities
    assert load_catalogue() is load_catalogue()
    other = _folder(tmp_path, cities=[_city("tianjin", "天津", "Tianjin", "120000")])
    monkeypatch.setenv(EXTRA_ENV, os.pathsep.join([str(BEIJING), str(other)]))
    assert {"beijing", "tianjin"} <= set(load_catalogue().cities)
    monkeypatch.delenv(EXTRA_ENV)
    assert "beijing" not in load_catalogue().cities


def _city(slug, zh, en, code, province=None):
    return {"slug": slug, "name_zh": zh, "name_en": en, "province": province or en,
            "lat": 39.1, "lon": 117.2, "guanzhong": False, "fenwei": False,
            "observer": False, "gb2260": code}


def _station(sid, city, **kw):
    return {"id": sid, "name_zh": "站", "kind": "air", "city": city, "lat": 39.1, "lon": 117.2,
            "national": True, "simulated": False, "interval_s": 3600, **kw}


def _folder(tmp_path, cities=None, stations=None) -> Path:
    d = tmp_path / f"extra{len(list(tmp_path.iterdir()))}"
    d.mkdir()
    if cities is not None:
        (d / "cities.json").write_text(json.dumps({"cities": cities}), encoding="utf-8")
    if stations is not None:
        (d / "stations.json").write_text(json.dumps({"stations": stations}), encoding="utf-8")
    return d


BROKEN = [
    ("redefines-a-packaged-station", None, [_station("1462A", "xian")], "1462A"),
    ("redefines-a-packaged-city", [_city("xian", "西安", "Xi'an", "610100", "Shaanxi")], None,
     "already in the catalogue: xian"),
    ("station-of-unknown-city", None, [_station("3001A", "tianjin")], "unknown city"),
    ("unknown-province", [_city("atlantis", "亚特兰蒂斯", "Atlantis", "990000")], None,
     "unknown province"),
    ("outside-china", None, [_station("3001A", "xian", lat=60.0)], "stations.json"),
    ("extra-field", None, [_station("3001A", "xian", colour="red")], "stations.json"),
    ("no-files", None, None, "neither cities.json nor stations.json"),
]


@pytest.mark.parametrize("cities,stations,message", [b[1:] for b in BROKEN],
                         ids=[b[0] for b in BROKEN])
def test_a_bad_extra_is_refused_naming_the_problem(tmp_path, cities, stations, message):
    folder = _folder(tmp_path, cities, stations)
    with pytest.raises(CatalogueError, match=message):
        load_catalogue(extra=[folder])


def test_not_a_folder(tmp_path):
    with pytest.raises(CatalogueError, match="not a folder"):
        load_catalogue(extra=[tmp_path / "nowhere"])


@pytest.mark.parametrize("argv,rest,dirs", [
    (["--catalogue-extra", "A", "aqi", "run"], ["aqi", "run"], ["A"]),
    (["import", "prsa", "f.csv", "--catalogue-extra=B"], ["import", "prsa", "f.csv"], ["B"]),
    (["x", "--catalogue-extra", "A", "--catalogue-extra", "B"], ["x"], ["A", "B"]),
    (["x", "--", "--catalogue-extra", "A"], ["x", "--", "--catalogue-extra", "A"], []),
], ids=["before", "after-with-equals", "twice", "after-double-dash"])
def test_the_global_option_is_taken_off_the_line_anywhere(argv, rest, dirs):
    assert take_catalogue_extra(argv) == (rest, dirs)


def test_the_option_reaches_child_processes_through_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv(EXTRA_ENV, "")       # restored (unset) after the test
    monkeypatch.chdir(ROOT / "docs" / "examples")
    use_catalogue_extra(["catalogue-beijing"])
    assert os.environ[EXTRA_ENV] == str(BEIJING)          # absolute: any working directory
    out = subprocess.run([sys.executable, "-c", "from core.catalogue import load_catalogue;"
                          "print(len(load_catalogue().stations_of('beijing')))"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert out.stdout.strip() == "12", out.stderr


def test_a_broken_extra_stops_any_command_with_exit_2(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != EXTRA_ENV}
    res = subprocess.run([sys.executable, "-m", "core.cli", "config", "--help",
                          "--catalogue-extra", str(tmp_path / "nowhere")],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert res.returncode == 2 and "not a folder" in res.stderr
