"""The domain catalogue: real Xi'an stations, cities, river sections, parameters, and its checks."""
from __future__ import annotations

import json
import re
import shutil
from importlib import resources
from pathlib import Path

import pytest

from core.catalogue import CatalogueError, load_catalogue

XIAN = {"1462A": "高压开关厂", "1463A": "兴庆小区", "1464A": "纺织城", "1465A": "小寨",
        "1466A": "市人民体育场", "1467A": "高新西区", "1468A": "经开区", "1469A": "长安区",
        "1470A": "阎良区", "1471A": "临潼区", "1472A": "草滩", "1473A": "曲江文化产业集团",
        "1474A": "广运潭"}
UNITS = {"pm25": "µg/m³", "pm10": "µg/m³", "so2": "µg/m³", "no2": "µg/m³", "o3": "µg/m³",
         "co": "mg/m³", "temp": "°C", "rh": "%", "pressure": "kPa", "wind_speed": "m/s",
         "wind_dir": "°", "precip": "mm", "discharge": "m³/s", "stage": "m", "voltage": "V",
         # SL 651 hourly (34) reports: F4 5-minute rain totals; F5..FC relative stage 1..8 in
         # whole centimetres, which the decoder gives in metres (edge/protocols/sl651)
         "rain": "mm", **{"stage_relative" + n: "m" for n in ("", *(f"_{k}" for k in range(2, 9)))}}


def test_xian_has_its_13_national_stations_with_real_codes(catalogue):
    xian = catalogue.stations_of("xian", "air")
    assert {s.id: s.name_zh for s in xian} == XIAN
    assert all(s.national and not s.simulated and s.interval_s == 3600 for s in xian)
    assert catalogue.station("1462A").lat == pytest.approx(34.2749)
    assert catalogue.station("1471A").lon == pytest.approx(109.2186)


def test_every_city_has_air_stations_and_other_stations_are_marked_simulated(catalogue):
    for city in catalogue.cities:
        assert catalogue.stations_of(city, "air"), city
    real = {s.id for s in catalogue.stations.values() if not s.simulated}
    assert real == set(XIAN) | {"linjiacun", "weijiabao", "xianyang-wei", "lintong", "huaxian",
                                "hejin"}


def test_city_groups(catalogue):
    guanzhong = {c.slug for c in catalogue.guanzhong_cities()}
    assert len(guanzhong) == 12 and {"xian", "tianshui", "qingyang", "yuncheng"} <= guanzhong
    fenwei = {c.slug for c in catalogue.fenwei_cities()}
    assert {"jinzhong", "lvliang", "luoyang", "sanmenxia", "xian", "yangling"} <= fenwei
    assert {c.slug for c in catalogue.cities.values() if c.observer} == {"yanan", "sanmenxia"}


def test_wei_sections_upstream_to_downstream(catalogue):
    wei = [s.id for s in catalogue.river_sections("wei")]
    assert wei == ["linjiacun", "weijiabao", "xianyang-wei", "lintong", "huaxian"]
    assert [s.order for s in catalogue.river_sections("wei")] == [1, 2, 3, 4, 5]
    assert all(catalogue.station(s.station).kind == "hydro"
               for s in catalogue.sections.values())
    assert [s.id for s in catalogue.river_sections("fen")] == ["hejin"]


def test_tributaries_present(catalogue):
    tributaries = {s.river: s.id for s in catalogue.sections.values() if s.tributary}
    assert tributaries == {"jing": "zhangjiashan", "beiluo": "zhuangtou"}
    assert catalogue.rivers["jing"].joins == "wei" and catalogue.rivers["beiluo"].joins == "wei"
    assert catalogue.rivers["jing"].joins_above == "lintong"


def test_parameter_units(catalogue):
    assert {p.name: p.unit for p in catalogue.parameters.values()} == UNITS
    assert [p.name for p in catalogue.params_of("hydro")] == [
        "discharge", "stage", "voltage", "rain", "stage_relative",
        *(f"stage_relative_{k}" for k in range(2, 9))]
    # meteorology stored at air stations as observations (fenwei import, backtests)
    met = {"temp", "rh", "pressure", "wind_speed", "wind_dir", "precip"}
    assert met <= {p.name for p in catalogue.params_of("air")}
    assert catalogue.parameter("pm25").in_range(0) and not catalogue.parameter("rh").in_range(101)


# -- a bad data directory is a CatalogueError --------------------------------------------
@pytest.fixture
def data_dir(tmp_path) -> Path:
    src = resources.files("core.catalogue").joinpath("data")
    dst = tmp_path / "data"
    dst.mkdir()
    for name in ("cities.json", "stations.json", "sections.json", "parameters.json"):
        (dst / name).write_text(src.joinpath(name).read_text(encoding="utf-8"), encoding="utf-8")
    return dst


def edit(data_dir: Path, name: str, change) -> None:
    path = data_dir / name
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def _first(key, field, value):
    return lambda d: d[key][0].__setitem__(field, value)


BROKEN = [
    ("station-unknown-city", "stations.json", _first("stations", "city", "atlantis"), "atlantis"),
    ("station-bad-kind", "stations.json", _first("stations", "kind", "soil"), "stations entry 0"),
    ("station-bad-id", "stations.json", _first("stations", "id", "14 62A"), "stations entry 0"),
    ("station-outside-region", "stations.json", _first("stations", "lat", 60.0),
     "stations entry 0"),
    ("station-extra-field", "stations.json", _first("stations", "colour", "red"),
     "stations entry 0"),
    ("station-duplicate", "stations.json",
     lambda d: d["stations"].append(d["stations"][0]), "duplicate id '1462A'"),
    ("city-bad-slug", "cities.json", _first("cities", "slug", "Xi'an"), "cities entry 0"),
    ("section-on-air-station", "sections.json", _first("sections", "station", "1462A"),
     "unknown hydro station"),
    ("section-unknown-city", "sections.json", _first("sections", "cities_along", ["nowhere"]),
     "nowhere"),
    ("river-out-of-order", "sections.json",
     lambda d: d["rivers"][0]["sections"].reverse(), "river wei"),
    ("river-unknown-section", "sections.json",
     lambda d: d["rivers"][0]["sections"].append("atlantis"), "river wei"),
    ("parameter-no-unit", "parameters.json",
     lambda d: d["parameters"][0].pop("unit"), "parameters entry 0"),
    ("parameters-key-missing", "parameters.json", lambda d: d.pop("parameters"), "parameters"),
    ("cities-not-a-list", "cities.json", lambda d: d.__setitem__("cities", {}), "cities"),
]


@pytest.mark.parametrize("name,change,message", [b[1:] for b in BROKEN],
                         ids=[b[0] for b in BROKEN])
def test_broken_data_is_refused_with_a_message(data_dir, name, change, message):
    load_catalogue(data_dir)  # the copy itself is fine
    edit(data_dir, name, change)
    with pytest.raises(CatalogueError, match=re.escape(message)):
        load_catalogue(data_dir)


def test_missing_or_malformed_files_are_refused(data_dir, tmp_path):
    with pytest.raises(CatalogueError, match="cities.json"):
        load_catalogue(tmp_path / "nowhere")
    (data_dir / "stations.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CatalogueError, match="stations.json"):
        load_catalogue(data_dir)
    (data_dir / "stations.json").write_text("[]", encoding="utf-8")
    with pytest.raises(CatalogueError):
        load_catalogue(data_dir)
    shutil.rmtree(data_dir)
    with pytest.raises(CatalogueError):
        load_catalogue(data_dir)


def test_packaged_catalogue_is_loaded_once():
    assert load_catalogue() is load_catalogue()
