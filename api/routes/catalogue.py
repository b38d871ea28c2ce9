"""Cities, stations, rivers and sections from the catalogue."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException

from ..deps import Cat, Reader

router = APIRouter(tags=["catalogue"])


@router.get("/cities")
def list_cities(cat: Cat, _: Reader, fenwei: bool | None = None) -> list[dict]:
    """Cities of the Guanzhong Plain agglomeration and the Fen-Wei Plain key region."""
    return [c.model_dump() for c in cat.cities.values() if fenwei is None or c.fenwei == fenwei]


@router.get("/cities/{slug}")
def get_city(slug: str, cat: Cat, _: Reader) -> dict:
    city = cat.cities.get(slug)
    if city is None:
        raise HTTPException(404, f"unknown city {slug!r}")
    out = city.model_dump()
    out["stations"] = [s.id for s in cat.stations_of(slug)]
    return out


@router.get("/stations")
def list_stations(cat: Cat, _: Reader, kind: Literal["air", "hydro"] | None = None,
                  city: str | None = None) -> list[dict]:
    """The catalogue's stations, optionally filtered by kind and city."""
    if city is not None and city not in cat.cities:
        raise HTTPException(404, f"unknown city {city!r}")
    return [s.model_dump() for s in cat.stations.values()
            if (kind is None or s.kind == kind) and (city is None or s.city == city)]


@router.get("/stations/{station_id}")
def get_station(station_id: str, cat: Cat, _: Reader) -> dict:
    station = cat.stations.get(station_id)
    if station is None:
        raise HTTPException(404, f"unknown station {station_id!r}")
    return station.model_dump()


@router.get("/rivers")
def list_rivers(cat: Cat, _: Reader) -> list[dict]:
    return [r.model_dump() for r in cat.rivers.values()]


@router.get("/sections")
def list_sections(cat: Cat, _: Reader, river: str | None = None) -> list[dict]:
    """River control sections and gauges, upstream to downstream per river."""
    if river is not None and river not in cat.rivers:
        raise HTTPException(404, f"unknown river {river!r}")
    rivers = [river] if river else list(cat.rivers)
    return [s.model_dump() for r in rivers for s in cat.river_sections(r)]


@router.get("/parameters")
def list_parameters(cat: Cat, _: Reader) -> list[dict]:
    return [p.model_dump() for p in cat.parameters.values()]
