"""Warning gradings as data: a level is any of several criteria, a criterion all of its conditions.

The packaged gradings live in ``gradings.toml`` (each records its source); per-city stricter
triggers are added to a grading with :meth:`Grading.with_extra`.
"""
from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, \
    model_validator

from .._levels import LEVELS, RANK
from ..errors import ConfigError

POLLUTANTS = ("pm25", "pm10", "so2", "no2", "co", "o3")


class Condition(BaseModel):
    """``indicator`` above ``above`` for at least ``hours`` hours of one episode."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    above: float
    hours: int = Field(ge=1)
    indicator: str = "aqi"            # "aqi" (rolling 24 h) or "<pollutant>_1h" (µg/m³, CO mg/m³)

    @field_validator("indicator")
    @classmethod
    def _indicator(cls, v: str) -> str:
        if v != "aqi" and not (v.endswith("_1h") and v[:-3] in POLLUTANTS):
            raise ValueError(f"indicator {v!r}: use 'aqi' or '<pollutant>_1h'")
        return v

    def label(self) -> str:
        name = "AQI" if self.indicator == "aqi" else self.indicator.replace("_1h", " 1 h")
        return f"{name} > {self.above:g} for ≥ {self.hours} h"


class Criterion(BaseModel):
    """Conditions that must all be met (by overlapping episodes)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    all: tuple[Condition, ...] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _single(cls, v: Any) -> Any:
        if isinstance(v, dict) and "all" not in v:
            return {"all": [v]}
        return v

    def label(self) -> str:
        return " and ".join(c.label() for c in self.all)


def _check_levels(v: dict[str, Any]) -> dict[str, Any]:
    for level in v:
        if level not in RANK:
            raise ValueError(f"unknown level {level!r}: use one of {', '.join(LEVELS)}")
    return v


class Grading(BaseModel):
    """One grading table: per level, any of its criteria raises that level."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name_zh: str = ""
    name_en: str = ""
    source: str
    verified: bool = False
    levels: dict[str, tuple[Criterion, ...]]

    @field_validator("levels")
    @classmethod
    def _known_levels(cls, v: dict) -> dict:
        return _check_levels(v)

    def ordered(self) -> list[tuple[str, tuple[Criterion, ...]]]:
        """Levels from the highest down."""
        return sorted(self.levels.items(), key=lambda kv: -RANK[kv[0]])

    def with_extra(self, extra: dict[str, list[Criterion]] | None, tag: str) -> "Grading":
        """This grading plus stricter criteria (e.g. a city's own plan) as more alternatives."""
        if not extra:
            return self
        levels = dict(self.levels)
        for level, crits in extra.items():
            levels[level] = tuple(levels.get(level, ())) + tuple(crits)
        return self.model_copy(update={"id": f"{self.id}+{tag}", "levels": levels})

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "verified": self.verified}


CityTriggers = dict[str, dict[str, list[Criterion]]]


def check_city_triggers(triggers: CityTriggers, catalogue) -> None:
    for city, levels in triggers.items():
        if city not in catalogue.cities:
            raise ValueError(f"city_triggers: unknown city {city!r}")
        _check_levels(levels)


@lru_cache(maxsize=8)
def _load(path: str | None) -> tuple[str, dict[str, Grading]]:
    try:
        if path is None:
            text = resources.files(__package__).joinpath("gradings.toml").read_text("utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        doc = tomllib.loads(text)
        tables = {g["id"]: Grading.model_validate(g) for g in doc.get("grading", [])}
    except (OSError, tomllib.TOMLDecodeError, KeyError, ValidationError) as exc:
        raise ConfigError(f"gradings file {path or 'gradings.toml'}: {exc}") from exc
    default = doc.get("default") or next(iter(tables), "")
    if default not in tables:
        raise ConfigError(f"gradings file {path or 'gradings.toml'}: default {default!r} "
                          "is not a grading")
    return default, tables


def load_gradings(path: str | Path | None = None) -> dict[str, Grading]:
    """Gradings by id (the packaged file when ``path`` is None)."""
    return dict(_load(str(path) if path else None)[1])


def get_grading(grading_id: str = "", path: str | Path | None = None) -> Grading:
    """One grading by id; ``""`` is the file's default (the current 2024 grading)."""
    default, tables = _load(str(path) if path else None)
    gid = grading_id or default
    if gid not in tables:
        raise ValueError(f"unknown grading {gid!r} (known: {', '.join(sorted(tables))})")
    return tables[gid]
