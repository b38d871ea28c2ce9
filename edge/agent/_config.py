"""The agent's configuration: the ``[edge]`` table of a TOML file, validated at start.

Broker settings (``FENWEI_MQTT_URL``, TLS files) come from :mod:`core.settings`; everything the
agent alone needs lives here. See ``edge/sample-config.toml`` for every key with its default.
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.timeutil import parse_duration

from .errors import ConfigError

#: Largest change between two consecutive readings of one period before the later is a spike.
DEFAULT_SPIKE = {"pm25": 500.0, "pm10": 1000.0, "so2": 500.0, "no2": 300.0, "o3": 300.0,
                 "co": 20.0, "temp": 15.0, "rh": 60.0, "pressure": 5.0, "wind_speed": 40.0,
                 "stage": 5.0, "discharge": 5000.0, "voltage": 10.0}
#: Parameters checked for a flat line (the same value ``stuck_count`` times in a row).
DEFAULT_STUCK = ("pm25", "pm10", "so2", "no2", "o3", "co", "temp", "rh")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FactorConfig(_Model):
    """One HJ 212 factor (or SL 651 element) of a device: value = raw * scale."""

    param: str
    scale: float = 1.0
    range_max: float | None = None  # instrument measuring range: above it the value is flagged T


class DeviceConfig(_Model):
    """One field device: an HJ 212 data logger (by MN) or an SL 651 gauge (by address)."""

    protocol: Literal["hj212", "sl651"]
    station: str
    mn: str | None = Field(None, max_length=24)  # HJ 212 device id
    address: str | None = Field(None, pattern=r"^[0-9A-F]{10}$")  # SL 651 station address
    password: str | None = None  # HJ 212 PW, or SL 651 password as 4 hex digits; None: unchecked
    crc_swapped_ok: bool = False  # accept (and count) byte-swapped CRCs from this device
    minute_period: str = "PT1M"  # period of HJ 212 CN=2051 data
    factors: dict[str, FactorConfig] = Field(default_factory=dict)  # empty: catalogue codes

    @property
    def key(self) -> str:
        return (self.mn if self.protocol == "hj212" else self.address) or ""


class ListenerConfig(_Model):
    host: str = "0.0.0.0"
    port: int = Field(0, ge=0, le=65535)
    max_length: int = Field(4096, ge=256, le=9999)  # HJ 212 data segment bound


class QueueConfig(_Model):
    path: str = "edge-queue.sqlite"  # relative to data_dir
    max_readings: int = Field(2_000_000, ge=1)
    max_age: str = "60d"
    max_mb: int = Field(0, ge=0)  # 0: no file-size bound of our own (the disk still is one)
    policy: Literal["drop_oldest", "reject_new"] = "drop_oldest"
    synchronous: Literal["FULL", "NORMAL"] = "FULL"

    @field_validator("max_age")
    @classmethod
    def _age(cls, v: str) -> str:
        parse_duration(v)
        return v

    @property
    def max_age_s(self) -> float:
        return parse_duration(self.max_age).total_seconds()


class MqttConfig(_Model):
    client_id_prefix: str = "fenwei-edge"
    keepalive_s: int = Field(30, ge=5)
    max_inflight: int = Field(8, ge=1, le=1000)  # messages per station, each up to batch_max
    batch_max: int = Field(500, ge=1, le=1000)
    backoff_initial_s: float = Field(0.5, gt=0)
    backoff_max_s: float = Field(60.0, gt=0)
    status_interval_s: float = Field(60.0, gt=0)
    drain_timeout_s: float = Field(5.0, ge=0)


class QcConfig(_Model):
    max_skew_s: float = Field(300.0, gt=0)  # device clock vs agent clock
    backfill_grace_s: float = Field(900.0, ge=0)  # late beyond period + grace: backfill
    stuck_count: int = Field(6, ge=2)
    stuck_params: tuple[str, ...] = DEFAULT_STUCK
    spike: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_SPIKE))

    @field_validator("spike")
    @classmethod
    def _spike(cls, v: dict[str, float]) -> dict[str, float]:
        bad = [k for k, x in v.items() if not x > 0]
        if bad:
            raise ValueError(f"spike thresholds must be > 0: {bad}")
        return {**DEFAULT_SPIKE, **v}


class AgentConfig(_Model):
    """The ``[edge]`` table."""

    agent_id: str = "edge"
    data_dir: Path = Path(".")
    catalogue_devices: bool = False  # add default_devices(catalogue) for unlisted stations
    hj212: ListenerConfig = ListenerConfig(port=9212)
    sl651: ListenerConfig = ListenerConfig(port=9651)
    queue: QueueConfig = QueueConfig()
    mqtt: MqttConfig = MqttConfig()
    qc: QcConfig = QcConfig()
    push_interval: bool = True  # send a remote-configured interval to HJ 212 loggers (CN 1062)
    devices: tuple[DeviceConfig, ...] = ()

    @property
    def queue_path(self) -> Path:
        p = Path(self.queue.path)
        return p if p.is_absolute() else self.data_dir / p


def parse_config(doc: dict) -> AgentConfig:
    """Validate an ``[edge]`` table (a dict); raise :class:`ConfigError` naming the key."""
    try:
        return AgentConfig.model_validate(doc)
    except ValidationError as exc:
        raise ConfigError(_explain(exc)) from None


def load_config(path: str | Path) -> AgentConfig:
    """Read the ``[edge]`` table of a TOML file (relative data_dir: relative to the file)."""
    try:
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {path}: {exc}") from exc
    edge = dict(doc.get("edge", {}))
    data_dir = Path(edge.get("data_dir", "."))
    if not data_dir.is_absolute():
        edge["data_dir"] = Path(path).resolve().parent / data_dir
    return parse_config(edge)


def _explain(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = "edge." + ".".join(str(p) for p in err["loc"])
        parts.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
    return "invalid edge config: " + "; ".join(parts)
