"""Loading and cross-checking the catalogue data files."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from ._model import City, Parameter, River, Section, Station


class CatalogueError(ValueError):
    """A catalogue data file is missing, malformed or inconsistent."""


#: the variable naming catalogue extra folders (several separated by os.pathsep); the global
#: ``fenwei --catalogue-extra DIR`` option sets it, so every service the command starts sees it
EXTRA_ENV = "FENWEI_CATALOGUE_EXTRA"
EXTRA_FILES = ("cities.json", "stations.json")


@dataclass(frozen=True)
class Catalogue:
    cities: dict[str, City]
    stations: dict[str, Station]
    sections: dict[str, Section]
    rivers: dict[str, River]
    parameters: dict[str, Parameter]
    _by_city: dict[str, tuple[Station, ...]] = field(default_factory=dict, repr=False)

    def city(self, slug: str) -> City:
        return self.cities[slug]

    def station(self, station_id: str) -> Station:
        return self.stations[station_id]

    def parameter(self, name: str) -> Parameter:
        return self.parameters[name]

    def stations_of(self, city: str, kind: str | None = None) -> tuple[Station, ...]:
        return tuple(s for s in self._by_city.get(city, ()) if kind is None or s.kind == kind)

    def aqi_stations(self) -> tuple[Station, ...]:
        """The air stations a city's AQI is computed from: its national stations, or, for a
        city with none in the catalogue, its simulated stand-ins (they are never national)."""
        out: list[Station] = []
        for city in self.cities:
            air = self.stations_of(city, "air")
            national = [s for s in air if s.national]
            out += national or [s for s in air if s.simulated]
        return tuple(out)

    def params_of(self, kind: str) -> tuple[Parameter, ...]:
        return tuple(p for p in self.parameters.values() if p.kind == kind)

    def river_sections(self, river: str) -> tuple[Section, ...]:
        """Sections of a river, upstream to downstream."""
        return tuple(self.sections[s] for s in self.rivers[river].sections)

    def fenwei_cities(self) -> tuple[City, ...]:
        return tuple(c for c in self.cities.values() if c.fenwei)

    def guanzhong_cities(self) -> tuple[City, ...]:
        return tuple(c for c in self.cities.values() if c.guanzhong)


def _read(data_dir: Path | None, name: str) -> dict:
    try:
        if data_dir is not None:
            text = (data_dir / name).read_text(encoding="utf-8")
        else:
            text = resources.files(__package__).joinpath("data", name).read_text(encoding="utf-8")
        return json.loads(text)
    except (OSError, json.JSONDecodeError) as exc:
        raise CatalogueError(f"cannot read catalogue file {name}: {exc}") from exc


def _build(model, doc: dict, key: str, name: str) -> dict:
    rows = doc.get(name) if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        raise CatalogueError(f"{name}: expected a list under {name!r}")
    out: dict = {}
    for i, row in enumerate(rows):
        try:
            obj = model.model_validate(row)
        except ValidationError as exc:
            raise CatalogueError(f"{name} entry {i}: {exc}") from exc
        k = getattr(obj, key)
        if k in out:
            raise CatalogueError(f"{name}: duplicate {key} {k!r}")
        out[k] = obj
    return out


def _check_refs(cat: Catalogue) -> None:
    for s in cat.stations.values():
        if s.city not in cat.cities:
            raise CatalogueError(f"station {s.id}: unknown city {s.city!r}")
    for sec in cat.sections.values():
        if sec.station not in cat.stations or cat.stations[sec.station].kind != "hydro":
            raise CatalogueError(f"section {sec.id}: unknown hydro station {sec.station!r}")
        for c in (sec.city, *sec.cities_along):
            if c not in cat.cities:
                raise CatalogueError(f"section {sec.id}: unknown city {c!r}")
    for r in cat.rivers.values():
        orders = [cat.sections[s].order for s in r.sections if s in cat.sections]
        if len(orders) != len(r.sections) or orders != sorted(orders):
            raise CatalogueError(f"river {r.id}: sections missing or not upstream-to-downstream")


def extra_dirs(value: str | None = None) -> tuple[Path, ...]:
    """The catalogue extra folders named by ``value`` (default: ``$FENWEI_CATALOGUE_EXTRA``)."""
    value = os.environ.get(EXTRA_ENV, "") if value is None else value
    return tuple(Path(p).expanduser().resolve() for p in value.split(os.pathsep) if p.strip())


def load_catalogue(data_dir: Path | None = None,
                   extra: tuple[Path, ...] | list[Path] | None = None) -> Catalogue:
    """Load and validate the catalogue: the packaged one (or ``data_dir``'s) plus the cities
    and stations of each ``extra`` folder (default: those ``$FENWEI_CATALOGUE_EXTRA`` names).

    An extra folder holds ``cities.json`` and/or ``stations.json`` in the packaged files'
    schema (docs/catalogue.md); it adds entries and may not redefine packaged ones."""
    dirs = extra_dirs() if extra is None else tuple(Path(p).resolve() for p in extra)
    if data_dir is None:
        return _packaged(dirs)
    return _load(data_dir, dirs)


@lru_cache(maxsize=4)
def _packaged(extra: tuple[Path, ...]) -> Catalogue:
    return _load(None, extra)


def _extra(extra: tuple[Path, ...], cities: dict, stations: dict) -> None:
    for folder in extra:
        if not folder.is_dir():
            raise CatalogueError(f"catalogue extra {folder}: not a folder")
        present = [n for n in EXTRA_FILES if (folder / n).is_file()]
        if not present:
            raise CatalogueError(f"catalogue extra {folder}: neither cities.json nor "
                                 f"stations.json")
        for name, model, key, into in (("cities", City, "slug", cities),
                                       ("stations", Station, "id", stations)):
            if f"{name}.json" not in present:
                continue
            where = f"{folder / (name + '.json')}"
            try:
                more = _build(model, _read(folder, f"{name}.json"), key, name)
            except CatalogueError as exc:
                raise CatalogueError(f"catalogue extra {where}: {exc}") from None
            clash = sorted(set(more) & set(into))
            if clash:
                raise CatalogueError(f"catalogue extra {where}: {name} already in the "
                                     f"catalogue: {', '.join(clash)}")
            into.update(more)


def _load(data_dir: Path | None, extra: tuple[Path, ...] = ()) -> Catalogue:
    cities = _build(City, _read(data_dir, "cities.json"), "slug", "cities")
    stations = _build(Station, _read(data_dir, "stations.json"), "id", "stations")
    _extra(extra, cities, stations)
    sec_doc = _read(data_dir, "sections.json")
    sections = _build(Section, sec_doc, "id", "sections")
    rivers = _build(River, sec_doc, "id", "rivers")
    params = _build(Parameter, _read(data_dir, "parameters.json"), "name", "parameters")
    by_city: dict[str, list[Station]] = {}
    for s in stations.values():
        by_city.setdefault(s.city, []).append(s)
    cat = Catalogue(cities, stations, sections, rivers, params,
                    {k: tuple(v) for k, v in by_city.items()})
    _check_refs(cat)
    return cat
