"""The device table: which field device feeds which catalogue station, and how to read it.

:func:`default_devices` derives one device per catalogue station (HJ 212 data logger for air
stations, SL 651 gauge for hydrological ones). The firmware simulator uses the same function, so
an agent started with ``catalogue_devices = true`` accepts the simulator out of the box.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from core.catalogue import Catalogue, Station
from edge.protocols.hj212 import FactorMap

from ._config import AgentConfig, DeviceConfig, FactorConfig
from .errors import ConfigError

DEFAULT_HJ212_PASSWORD = "123456"
DEFAULT_SL651_PASSWORD = "0000"
#: CN=2051 data of the simulator's loggers covers 10 minutes (its minute_interval_s = 600).
DEFAULT_MINUTE_PERIOD = "PT10M"


def mn_for(station: Station, catalogue: Catalogue) -> str:
    """The station's MN: its id, as the firmware simulator's loggers send it (ids fit the 24
    characters of an MN); a longer id gets ``FW`` + GB 2260 city code + 16 hex of its SHA-256."""
    if len(station.id) <= 24:
        return station.id
    digest = hashlib.sha256(station.id.encode("utf-8")).hexdigest()[:16].upper()
    return f"FW{catalogue.city(station.city).gb2260}{digest}"


def default_devices(catalogue: Catalogue) -> list[DeviceConfig]:
    """One device per station: HJ 212 by :func:`mn_for`, SL 651 by ``section.sl651_address``."""
    addresses = {sec.station: sec.sl651_address for sec in catalogue.sections.values()}
    out = []
    for st in catalogue.stations.values():
        if st.kind == "air":
            out.append(DeviceConfig(protocol="hj212", station=st.id, mn=mn_for(st, catalogue),
                                    password=DEFAULT_HJ212_PASSWORD,
                                    minute_period=DEFAULT_MINUTE_PERIOD))
        elif st.id in addresses:
            out.append(DeviceConfig(protocol="sl651", station=st.id, address=addresses[st.id],
                                    password=DEFAULT_SL651_PASSWORD))
    return out


@dataclass(frozen=True)
class Device:
    """A resolved device: its configuration, catalogue station and value mapping."""

    config: DeviceConfig
    station: Station
    factor_map: FactorMap  # HJ 212 factor code (or SL 651 element name) -> (param, scale)
    range_max: dict[str, float]  # param -> instrument range (above it: flag T)

    @property
    def protocol(self) -> str:
        return self.config.protocol

    @property
    def key(self) -> str:
        return self.config.key


def _default_factors(catalogue: Catalogue, kind: str) -> dict[str, FactorConfig]:
    if kind == "air":
        return {p.hj212: FactorConfig(param=p.name) for p in catalogue.params_of("air") if p.hj212}
    return {p.name: FactorConfig(param=p.name) for p in catalogue.params_of("hydro")}


def _resolve(dev: DeviceConfig, catalogue: Catalogue) -> Device:
    station = catalogue.stations.get(dev.station)
    if station is None:
        raise ConfigError(f"device {dev.key or '?'}: unknown station {dev.station!r}")
    if not dev.key:
        need = "mn" if dev.protocol == "hj212" else "address"
        raise ConfigError(f"device of station {dev.station}: {dev.protocol} needs {need}")
    factors = dev.factors or _default_factors(catalogue, station.kind)
    for code, f in factors.items():
        p = catalogue.parameters.get(f.param)
        if p is None or p.kind != station.kind:
            raise ConfigError(f"device {dev.key}: factor {code} maps to {f.param!r}, "
                              f"not a {station.kind} parameter")
        if f.scale == 0:
            raise ConfigError(f"device {dev.key}: factor {code} has scale 0")
    fmap = FactorMap({code: (f.param, f.scale) for code, f in factors.items()})
    ranges = {f.param: f.range_max for f in factors.values() if f.range_max is not None}
    return Device(dev, station, fmap, ranges)


def device_table(config: AgentConfig, catalogue: Catalogue) -> dict[str, dict[str, Device]]:
    """``{"hj212": {mn: Device}, "sl651": {address: Device}}``; listed devices win."""
    listed = list(config.devices)
    if config.catalogue_devices:
        taken = {d.station for d in listed}
        listed += [d for d in default_devices(catalogue) if d.station not in taken]
    table: dict[str, dict[str, Device]] = {"hj212": {}, "sl651": {}}
    stations: set[str] = set()
    for dev in listed:
        resolved = _resolve(dev, catalogue)
        if resolved.key in table[dev.protocol]:
            raise ConfigError(f"device {resolved.key} listed twice")
        if dev.station in stations:
            raise ConfigError(f"station {dev.station} has two devices")
        stations.add(dev.station)
        table[dev.protocol][resolved.key] = resolved
    return table
