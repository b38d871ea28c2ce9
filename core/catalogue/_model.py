"""Typed, validated domain catalogue: cities, stations, river sections, parameters."""
from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Kind = Literal["air", "hydro"]
SLUG = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
STATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
#: provincial-level divisions of China (English names as in GB/T 2260's romanisation); a
#: catalogue extra (docs/catalogue.md) may add cities of any of them
PROVINCES = frozenset({
    "Beijing", "Tianjin", "Hebei", "Shanxi", "Inner Mongolia", "Liaoning", "Jilin",
    "Heilongjiang", "Shanghai", "Jiangsu", "Zhejiang", "Anhui", "Fujian", "Jiangxi", "Shandong",
    "Henan", "Hubei", "Hunan", "Guangdong", "Guangxi", "Hainan", "Chongqing", "Sichuan",
    "Guizhou", "Yunnan", "Tibet", "Shaanxi", "Gansu", "Qinghai", "Ningxia", "Xinjiang",
    "Taiwan", "Hong Kong", "Macao"})
#: China's extent (WGS-84), a bound that catches swapped or mistyped coordinates
LAT, LON = {"ge": 3, "le": 54}, {"ge": 73, "le": 136}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class City(_Frozen):
    slug: str
    name_zh: str
    name_en: str
    province: str
    lat: float = Field(**LAT)
    lon: float = Field(**LON)
    guanzhong: bool
    fenwei: bool
    observer: bool
    gb2260: str = Field(pattern=r"^\d{6}$")

    @field_validator("slug")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not SLUG.match(v):
            raise ValueError(f"bad city slug {v!r}")
        return v

    @field_validator("province")
    @classmethod
    def _province(cls, v: str) -> str:
        if v not in PROVINCES:
            raise ValueError(f"unknown province {v!r} (one of {', '.join(sorted(PROVINCES))})")
        return v


class Station(_Frozen):
    id: str
    name_zh: str
    kind: Kind
    city: str
    lat: float = Field(**LAT)
    lon: float = Field(**LON)
    national: bool
    simulated: bool
    interval_s: int = Field(gt=0)
    #: English name, as data files name the station (PRSA's ``station`` column)
    name_en: str | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not STATION_ID.match(v):
            raise ValueError(f"bad station id {v!r}")
        return v


class Section(_Frozen):
    id: str
    name_zh: str
    name_en: str
    river: str
    order: int = Field(ge=1)
    station: str
    city: str
    lat: float
    lon: float
    sl651_address: str = Field(pattern=r"^[0-9A-F]{10}$")
    cities_along: tuple[str, ...]
    control_section: bool
    tributary: bool
    travel_h_to_next: float = Field(ge=0)


class River(_Frozen):
    id: str
    name_zh: str
    name_en: str
    sections: tuple[str, ...]
    joins: str | None = None
    joins_above: str | None = None


class Parameter(_Frozen):
    name: str
    kind: Kind
    unit: str
    min: float
    max: float
    hj212: str | None
    name_zh: str

    def in_range(self, value: float) -> bool:
        return self.min <= value <= self.max
