"""The agent's configuration: the ``[edge]`` table of a TOML file, validated at start.

Broker settings (``FENWEI_MQTT_URL``, TLS files) come from :mod:`core.settings`; everything the
agent alone needs lives here. See ``edge/sample-config.toml`` for every key with its default.
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import (BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator,
                      model_validator)

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
    host: str = "127.0.0.1"  # loopback: a site sets its LAN address (or 0.0.0.0) explicitly
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
    client_id_prefix: str = "fenwei-edge"  # without credentials_file: client id PREFIX-STATION
    # MQTT 5: a publish the broker refuses (PUBACK reason code >= 0x80) stays queued. 3.1.1
    # cannot tell a refusal from a delivery: only for brokers without ACLs (the demo's)
    protocol: Literal["5", "3.1.1"] = "5"
    # {station: password} as `fenwei broker config` writes it (credentials.json): each station
    # connects as user = client id = station id; relative to data_dir
    credentials_file: Path | None = None
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
    # the flat-line policy (edge/agent/_qc.py StuckPolicy; unset = its defaults): a run is
    # judged only at >= stuck_min_steps resolution steps (sub-hourly data), hourly data at
    # >= stuck_hourly_min_steps over stuck_hourly_count identical hours; stuck_resolution
    # overrides an instrument's resolution per parameter
    stuck_min_steps: float | None = Field(None, gt=0)
    stuck_hourly_min_steps: float | None = Field(None, gt=0)
    stuck_hourly_count: int | None = Field(None, ge=2)
    stuck_resolution: dict[str, float] | None = None
    spike: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_SPIKE))

    @field_validator("spike")
    @classmethod
    def _spike(cls, v: dict[str, float]) -> dict[str, float]:
        bad = [k for k, x in v.items() if not x > 0]
        if bad:
            raise ValueError(f"spike thresholds must be > 0: {bad}")
        return {**DEFAULT_SPIKE, **v}


class ClockConfig(_Model):
    """Loggers' clocks (HJ 212): set with CN 1012 when off by more than ``tolerance_s``."""

    set_time: bool = True
    tolerance_s: float = Field(300.0, gt=0)
    window_s: float = Field(7200.0, gt=0)          # interval uploads: judged over this window
    min_interval_s: float = Field(3600.0, ge=0)   # between two 1012 to one logger


class FillConfig(_Model):
    """Gap-fill requests from the ingest (``fenwei/v1/.../fill``): ask the logger for a span."""

    enabled: bool = True
    max_span_s: int = Field(3 * 86400, ge=60)     # longer requests are refused (counted)
    query_step_s: int = Field(3600, ge=60)        # SL 651 38 query time step


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
    clock: ClockConfig = ClockConfig()
    fill: FillConfig = FillConfig()
    # catalogue devices' passwords: derived per device from this site secret, or (demo = true)
    # the firmware simulator's well-known ones; catalogue_devices needs exactly one of them
    device_secret: SecretStr | None = None
    demo: bool = False
    devices: tuple[DeviceConfig, ...] = ()

    @model_validator(mode="after")
    def _passwords(self) -> "AgentConfig":
        secret = self.device_secret is not None
        if self.catalogue_devices and secret == self.demo:
            raise ValueError("catalogue_devices needs either device_secret (a per-device "
                             "password derived from this site secret) or demo = true (the "
                             "simulator's well-known passwords), not both and not neither")
        if secret and len(self.device_secret.get_secret_value()) < 16:
            raise ValueError("device_secret must be at least 16 characters")
        return self

    @property
    def queue_path(self) -> Path:
        p = Path(self.queue.path)
        return p if p.is_absolute() else self.data_dir / p

    @property
    def credentials_path(self) -> Path | None:
        p = self.mqtt.credentials_file
        return p if p is None or p.is_absolute() else self.data_dir / p


class EdgeSection(BaseModel):
    """The ``[edge]`` section of the shared ``fenwei.toml``: where the agent's own file is
    (the format above, see ``edge/sample-config.toml``) and the listener ports, which win
    over that file's. Without a file the agent runs on defaults under ``[fenwei] data_dir``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    config: Path | None = None                            # the agent's own TOML file
    hj212_port: int | None = Field(None, ge=0, le=65535)  # default: the file's (9212)
    sl651_port: int | None = Field(None, ge=0, le=65535)  # default: the file's (9651)
    data_dir: Path | None = None                          # default: [fenwei] data_dir

    @classmethod
    def from_config(cls, config) -> "EdgeSection":
        """The section (file, FENWEI_EDGE_*) with ``data_dir`` from ``[fenwei]`` when unset."""
        values = config.values("edge")
        values.setdefault("data_dir", config.settings.data_dir)
        return cls.model_validate(values)

    def agent_config(self) -> AgentConfig:
        """The agent's configuration: its file (or defaults), then these ports.
        Raises :class:`ConfigError`."""
        agent = load_config(self.config) if self.config else \
            AgentConfig(data_dir=self.data_dir or Path("."))
        ports = {"hj212": self.hj212_port, "sl651": self.sl651_port}
        update = {name: getattr(agent, name).model_copy(update={"port": port})
                  for name, port in ports.items() if port is not None}
        return agent.model_copy(update=update) if update else agent


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
        where = "edge." + ".".join(str(p) for p in err["loc"]) if err["loc"] else "edge"
        parts.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
    return "invalid edge config: " + "; ".join(parts)
