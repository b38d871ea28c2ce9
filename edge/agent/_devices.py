"""The device table: which field device feeds which catalogue station, and how to read it.

:func:`default_devices` derives one device per catalogue station (HJ 212 data logger for air
stations, SL 651 gauge for hydrological ones). Their passwords are either derived per device from
a site secret (:func:`device_password`; ``fenwei edge devices --config`` prints them for the
installer) or, in demo mode only, the firmware simulator's well-known ones (HJ 212 ``123456``,
SL 651 ``0000``, the same MNs, addresses and passwords as the simulator), so an agent with
``catalogue_devices = true`` and ``demo = true`` accepts it out of the box.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass

from core.catalogue import Catalogue, Station
from edge.protocols.hj212 import FactorMap

from ._config import AgentConfig, DeviceConfig, FactorConfig
from .errors import ConfigError

log = logging.getLogger(__name__)

#: The firmware simulator's passwords: demo and tests only (``demo = true``).
DEFAULT_HJ212_PASSWORD = "123456"
DEFAULT_SL651_PASSWORD = "0000"
WELL_KNOWN = {"hj212": DEFAULT_HJ212_PASSWORD, "sl651": DEFAULT_SL651_PASSWORD}
#: CN=2051 data of the simulator's loggers covers 10 minutes (its minute_interval_s = 600).
DEFAULT_MINUTE_PERIOD = "PT10M"


def mn_for(station: Station, catalogue: Catalogue) -> str:
    """The station's MN: its id, as the firmware simulator's loggers send it (ids fit the 24
    characters of an MN); a longer id gets ``FW`` + GB 2260 city code + 16 hex of its SHA-256."""
    if len(station.id) <= 24:
        return station.id
    digest = hashlib.sha256(station.id.encode("utf-8")).hexdigest()[:16].upper()
    return f"FW{catalogue.city(station.city).gb2260}{digest}"


def device_password(secret: str, protocol: str, key: str) -> str:
    """The password of device ``key`` (MN or SL 651 address) derived from the site secret:
    HMAC-SHA256 over ``protocol:key``; HJ 212: 6 decimal digits (what loggers accept as PW),
    SL 651: 4 hex digits (its 2-byte password)."""
    mac = hmac.new(secret.encode("utf-8"), f"{protocol}:{key}".encode("utf-8"), hashlib.sha256)
    n = int.from_bytes(mac.digest()[:8], "big")
    return f"{n % 10**6:06d}" if protocol == "hj212" else f"{n % 0x10000:04X}"


def default_devices(catalogue: Catalogue, secret: str | None = None) -> list[DeviceConfig]:
    """One device per station: HJ 212 by :func:`mn_for`, SL 651 by ``section.sl651_address``.

    Passwords: :func:`device_password` of ``secret``; without one, the simulator's well-known
    passwords (for the demo and tests: an agent asks for ``demo = true`` before using them).
    """
    addresses = {sec.station: sec.sl651_address for sec in catalogue.sections.values()}

    def pw(protocol: str, key: str) -> str:
        return WELL_KNOWN[protocol] if secret is None else device_password(secret, protocol, key)
    out = []
    for st in catalogue.stations.values():
        if st.kind == "air":
            mn = mn_for(st, catalogue)
            out.append(DeviceConfig(protocol="hj212", station=st.id, mn=mn,
                                    password=pw("hj212", mn),
                                    minute_period=DEFAULT_MINUTE_PERIOD))
        elif st.id in addresses:
            out.append(DeviceConfig(protocol="sl651", station=st.id, address=addresses[st.id],
                                    password=pw("sl651", addresses[st.id])))
    return out


def catalogue_devices(config: AgentConfig, catalogue: Catalogue) -> list[DeviceConfig]:
    """The catalogue's devices as ``config`` asks for them (``device_secret`` or ``demo``)."""
    if not config.catalogue_devices:
        return []
    if config.device_secret is not None:
        return default_devices(catalogue, config.device_secret.get_secret_value())
    log.warning("demo mode: catalogue devices accept the simulator's well-known passwords "
                "(HJ 212 %s, SL 651 %s); never on a real site", DEFAULT_HJ212_PASSWORD,
                DEFAULT_SL651_PASSWORD)
    return default_devices(catalogue)


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
    taken = {d.station for d in listed}
    listed += [d for d in catalogue_devices(config, catalogue) if d.station not in taken]
    if not config.demo:
        _warn_weak(config.devices)
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


def _warn_weak(devices) -> None:
    """Listed devices without a password, or with a simulator's one, are not silent."""
    unchecked = [f"{d.station} ({d.key})" for d in devices if d.password is None]
    known = [f"{d.station} ({d.key})" for d in devices
             if d.password is not None and d.password == WELL_KNOWN[d.protocol]]
    if unchecked:
        log.warning("%d devices have no password configured and accept any: %s",
                    len(unchecked), ", ".join(unchecked))
    if known:
        log.warning("%d devices are configured with the simulator's well-known password "
                    "(HJ 212 %s, SL 651 %s): %s", len(known), DEFAULT_HJ212_PASSWORD,
                    DEFAULT_SL651_PASSWORD, ", ".join(known))
