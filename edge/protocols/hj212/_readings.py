"""Factor codes -> the product's canonical parameters, and packets -> readings."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from ._model import DATA_CNS, Packet

#: Ambient-air factor code -> canonical parameter name (all at scale 1).
DEFAULT_FACTOR_NAMES = {
    "a34004": "pm25", "a34002": "pm10", "a21026": "so2", "a21004": "no2", "a05024": "o3",
    "a21005": "co", "a01001": "temp", "a01002": "rh", "a01006": "pressure",
    "a01007": "wind_speed", "a01008": "wind_dir",
}


class FactorMap:
    """Per-device map: factor code -> (parameter name, scale); value = raw * scale."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Mapping[str, tuple[str, float]]) -> None:
        for code, (param, scale) in entries.items():
            if not param or not math.isfinite(scale) or scale == 0:
                raise ValueError(f"bad factor map entry {code!r}: {(param, scale)!r}")
        self._entries = MappingProxyType({c: (p, float(s)) for c, (p, s) in entries.items()})

    @property
    def entries(self) -> Mapping[str, tuple[str, float]]:
        return self._entries

    def get(self, code: str) -> tuple[str, float] | None:
        return self._entries.get(code)

    def updated(self, entries: Mapping[str, tuple[str, float]]) -> FactorMap:
        """A copy with entries added or replaced, e.g. ``{"a34004": ("pm25", 0.001)}``."""
        return FactorMap({**self._entries, **entries})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FactorMap) and dict(self._entries) == dict(other._entries)

    def __repr__(self) -> str:
        return f"FactorMap({dict(self._entries)!r})"


DEFAULT_FACTOR_MAP = FactorMap({code: (p, 1.0) for code, p in DEFAULT_FACTOR_NAMES.items()})


@dataclass(slots=True)
class Reading:
    """One station's values for one period, in canonical parameter names."""

    mn: str
    ts: datetime  # aware, UTC+8 as sent (DataTime)
    period: str  # ISO 8601 duration: PT0S real-time, PT1M minute, PT1H hour, P1D day
    values: dict[str, float] = field(default_factory=dict)
    flags: dict[str, str] = field(default_factory=dict)  # only flags other than N
    unknown_factors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def to_readings(
    packet: Packet, factor_map: FactorMap = DEFAULT_FACTOR_MAP, *, minute_period: str = "PT1M"
) -> list[Reading]:
    """Readings of a data upload (2011 uses -Rtd, 2051/2061/2031 -Avg); [] for other CNs."""
    value_field = DATA_CNS.get(packet.cn)
    if value_field is None or packet.data_time is None:
        return []
    periods = {"2011": "PT0S", "2051": minute_period, "2061": "PT1H", "2031": "P1D"}
    reading = Reading(packet.mn, packet.data_time, periods[packet.cn])
    for code, factor in packet.factors.items():
        entry = factor_map.get(code)
        if entry is None:
            reading.unknown_factors.append(code)
            continue
        param, scale = entry
        raw = factor.values.get(value_field)
        if raw is not None:
            reading.values[param] = raw if scale == 1.0 else float(f"{raw * scale:.12g}")
        if factor.flag is not None and factor.flag != "N":
            reading.flags[param] = factor.flag
    return [reading]
