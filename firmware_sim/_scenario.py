"""Scenarios: small TOML files (firmware_sim/scenarios/) -> a validated :class:`Scenario`."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path

from ._faults import Fault, parse_faults
from ._hydro import Flood, HydroConfig
from ._physics import PhysicsConfig
from ._time import parse_duration, parse_time
from ._weather import Episode, Front
from .errors import ScenarioError

HJ212_DATA_CNS = ("2011", "2051", "2061", "2031")
SL651_REPORTS = ("31", "32", "34")


@dataclass(frozen=True)
class AirDeviceConfig:
    """HJ 212 data logger behaviour (intervals in simulated seconds; 0 disables)."""

    realtime_interval_s: float = 60.0  # 2011
    minute_interval_s: float = 600.0  # 2051
    hourly: bool = True  # 2061
    daily: bool = False  # 2031
    ack_cns: tuple[str, ...] = ("2051", "2061", "2031")  # uploads asking for a 9014
    ack_timeout_s: float = 10.0  # OverTime (simulated s, floored in real time, see devices)
    retries: int = 3  # ReCount
    password: str = "123456"
    buffer_limit: int = 20000  # packets kept for back-fill during an outage


@dataclass(frozen=True)
class HydroDeviceConfig:
    """SL 651 telemetry unit behaviour."""

    reports: tuple[str, ...] = ("34", "32")
    timed_interval_s: float = 3600.0  # 32
    uniform_interval_s: float = 3600.0  # 31: one frame per interval...
    uniform_step_s: float = 300.0  # ... carrying values every step
    keepalive_s: float = 60.0  # 2F
    centre: int = 1
    password: int = 0


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    start: datetime
    duration: timedelta
    seed: int
    physics: PhysicsConfig
    air: AirDeviceConfig = field(default_factory=AirDeviceConfig)
    hydro: HydroDeviceConfig = field(default_factory=HydroDeviceConfig)
    faults: tuple[Fault, ...] = ()

    @property
    def end(self) -> datetime:
        return self.start + self.duration

    def with_devices(self, **air_changes) -> "Scenario":
        """A copy with air-logger settings changed, e.g. ``realtime_interval_s=0``."""
        return replace(self, air=replace(self.air, **air_changes))

    def with_hydro(self, **changes) -> "Scenario":
        return replace(self, hydro=replace(self.hydro, **changes))


def scenario_names() -> list[str]:
    folder = resources.files(__package__).joinpath("scenarios")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A packaged scenario by name (see :func:`scenario_names`) or a TOML file by path."""
    path = Path(name_or_path)
    try:
        if path.suffix == ".toml" and path.exists():
            text = path.read_text(encoding="utf-8")
        else:
            res = resources.files(__package__).joinpath("scenarios", f"{name_or_path}.toml")
            if not res.is_file():
                raise ScenarioError(f"unknown scenario {name_or_path!r}; "
                                    f"known: {', '.join(scenario_names())}")
            text = res.read_text(encoding="utf-8")
        return parse_scenario(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"scenario {name_or_path}: {exc}") from exc


def parse_scenario(doc: dict) -> Scenario:
    try:
        start = parse_time(doc["start"])
        phys = doc.get("physics", {})
        scenario = Scenario(
            name=str(doc["name"]),
            description=str(doc.get("description", "")),
            start=start,
            duration=parse_duration(doc.get("duration", "7d")),
            seed=int(doc.get("seed", 0)),
            physics=_physics(phys, start),
            air=_section(AirDeviceConfig, doc.get("air", {})),
            hydro=_section(HydroDeviceConfig, doc.get("hydro", {})),
            faults=tuple(parse_faults(doc.get("faults", []), start)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ScenarioError):
            raise
        raise ScenarioError(f"scenario {doc.get('name', '?')}: {exc!r}") from exc
    _check(scenario)
    return scenario


def _section(cls, table: dict):
    unknown = set(table) - set(cls.__dataclass_fields__)
    if unknown:
        raise ScenarioError(f"unknown keys {sorted(unknown)} for {cls.__name__}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in table.items()}
    return cls(**values)


def _physics(phys: dict, start: datetime) -> PhysicsConfig:
    episodes = tuple(
        Episode(onset=parse_time(e["onset"], base=start),
                duration_h=parse_duration(e["duration"]).total_seconds() / 3600,
                intensity=float(e.get("intensity", 1.0)),
                cities=tuple(e["cities"]) if "cities" in e else None,
                onset_from_deg=float(e.get("onset_from_deg", 90)),
                onset_speed_kmh=float(e.get("onset_speed_kmh", 12)),
                front_from_deg=float(e.get("front_from_deg", 315)),
                front_speed_kmh=float(e.get("front_speed_kmh", 35)),
                front_strength=float(e.get("front_strength", 1.0)))
        for e in phys.get("episodes", []))
    fronts = tuple(Front(parse_time(f["at"], base=start), float(f.get("strength", 1.0)),
                         float(f.get("from_deg", 315)), float(f.get("speed_kmh", 35)))
                   for f in phys.get("fronts", []))
    h = phys.get("hydro", {})
    floods = tuple(Flood(parse_time(f["at"], base=start), f["section"], float(f["peak_m3s"]),
                         float(f.get("time_to_peak_h", 10)))
                   for f in h.get("floods", []))
    hydro = HydroConfig(float(h.get("runoff_factor", 1.0)), float(h.get("irrigation", 1.0)),
                        float(h.get("storm_rate", 1.0)), floods)
    return PhysicsConfig(episodes, fronts, float(phys.get("variability", 1.0)),
                         float(phys.get("emission_factor", 1.0)), hydro,
                         float(phys.get("jitter_h", 4.0)),
                         float(phys.get("jitter_intensity", 0.06)))


def _check(s: Scenario) -> None:
    if s.duration <= timedelta(0):
        raise ScenarioError(f"scenario {s.name}: duration must be positive")
    bad = [r for r in s.hydro.reports if r not in SL651_REPORTS]
    if bad:
        raise ScenarioError(f"scenario {s.name}: unknown SL 651 reports {bad}")
    bad = [c for c in s.air.ack_cns if c not in HJ212_DATA_CNS]
    if bad:
        raise ScenarioError(f"scenario {s.name}: ack_cns {bad} are not data uploads")
