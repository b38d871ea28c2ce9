"""Typed, validated domain catalogue: cities, stations, river sections, parameters."""
from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Kind = Literal["air", "hydro"]
SLUG = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
STATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class City(_Frozen):
    slug: str
    name_zh: str
    name_en: str
    province: Literal["Shaanxi", "Shanxi", "Gansu", "Henan"]
    lat: float = Field(ge=30, le=40)
    lon: float = Field(ge=100, le=116)
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


class Station(_Frozen):
    id: str
    name_zh: str
    kind: Kind
    city: str
    lat: float = Field(ge=30, le=40)
    lon: float = Field(ge=100, le=116)
    national: bool
    simulated: bool
    interval_s: int = Field(gt=0)

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
