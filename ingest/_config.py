"""Ingest settings: one pydantic-settings class, ``FENWEI_INGEST_*`` over the shared ones.

Every field has a safe default; ``IngestConfig.from_env()`` fills the connection URLs from the
shared settings (``FENWEI_MQTT_URL``, ``FENWEI_STORE_URL``, ``FENWEI_DATA_DIR``, and the MQTT
TLS files ``FENWEI_MQTT_CA_FILE``, ``_CERT_FILE``, ``_KEY_FILE``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.settings import SettingsError, load_settings, mask_url
from core.wire import MAX_PAYLOAD_BYTES, READINGS_FILTER


class IngestConfig(BaseSettings):
    """How one ingest process connects, batches, bounds and reports."""

    model_config = SettingsConfigDict(env_prefix="FENWEI_INGEST_", extra="ignore")

    mqtt_url: str = "mqtt://127.0.0.1:1883"
    store_url: str = "duckdb://fenwei.duckdb"
    state_path: Path = Path("ingest-state.sqlite")     # dead letters + completeness tracker
    # TLS (from FENWEI_MQTT_CA_FILE, _CERT_FILE, _KEY_FILE, like every service)
    mqtt_ca_file: Path | None = None
    mqtt_cert_file: Path | None = None
    mqtt_key_file: Path | None = None
    # MQTT session
    client_id: str = "fenwei-ingest"                   # fixed: the broker keeps the session
    mqtt_protocol: Literal["5", "3.1.1"] = "3.1.1"    # 3.1.1: paho decodes it ~1.5x faster
    share_group: str | None = None                     # $share/<group>/... when set
    topic: str = READINGS_FILTER
    session_expiry_s: int = Field(7 * 86400, ge=0)
    keepalive_s: int = Field(60, ge=5)
    receive_maximum: int = Field(10_000, ge=1, le=65_535)   # unacked messages the broker sends
    # MQTT 3.1.1: the broker's own limit of unacknowledged messages per client (Mosquitto
    # max_inflight_messages, as `fenwei broker config` sets it); a batch is written when it
    # holds half of it, so the broker sends the other half meanwhile
    inflight_window: int = Field(1_000, ge=1, le=65_535)
    # batching and back-pressure
    batch_points: int = Field(5_000, ge=1)
    batch_ms: int = Field(200, ge=1)
    max_buffer_points: int = Field(20_000, ge=1)       # then stop reading from the socket
    retry_initial_s: float = Field(0.2, gt=0)
    retry_max_s: float = Field(5.0, gt=0)
    store_open_timeout_s: float = Field(60.0, ge=0)
    drain_timeout_s: float = Field(30.0, ge=0)         # on stop, give up on a dead store after
    # admission
    max_payload_bytes: int = Field(MAX_PAYLOAD_BYTES, ge=64)
    flood_rate: float = Field(200.0, ge=0)             # messages/s per station; 0 = no limit
    flood_burst: float = Field(20_000.0, ge=1)
    dead_letter_max_rows: int = Field(1_000_000, ge=100)   # then refused: intake stalls
    dead_letter_max_age_days: float = Field(30.0, gt=0)    # older dead letters expire
    dead_letter_payload_bytes: int = Field(65_536, ge=64)
    # completeness
    completeness_window_s: int = Field(86_400, ge=60)
    # gap filling: time gaps in a station's series are asked for from its logger (fill topic)
    gap_fill: bool = True
    gap_scan_s: float = Field(60.0, gt=0)               # real seconds between scans
    gap_grace_s: float = Field(3_600.0, ge=0)           # a new gap waits for the logger's own
    gap_retry_initial_s: float = Field(900.0, gt=0)     # back-fill; then retries back off
    gap_retry_max_s: float = Field(21_600.0, gt=0)
    gap_max_attempts: int = Field(5, ge=1)              # then the gap is given up
    gap_min_interval_s: float = Field(300.0, ge=0)      # between two requests to one station
    gap_max_span_s: int = Field(86_400, ge=60)          # longer runs are split
    # retention of raw readings on InfluxDB ("INF" = forever, else an InfluxQL duration)
    retention: str = "INF"
    retention_policy: str = "autogen"                 # altered in place; another name is created
    # metrics
    metrics_port: int = Field(0, ge=0, le=65_535)      # 0 = no HTTP endpoint
    metrics_addr: str = "127.0.0.1"

    @field_validator("retention")
    @classmethod
    def _retention(cls, v: str) -> str:
        import re
        if v.upper() in ("INF", "0", "0S"):
            return "INF"
        if not re.fullmatch(r"(\d+(h|d|w))+", v):
            raise ValueError("FENWEI_INGEST_RETENTION must be INF or like 30d, 52w, 720h")
        return v

    @property
    def retention_s(self) -> int | None:
        """The retention in seconds (None = forever)."""
        if self.retention == "INF":
            return None
        import re
        unit = {"h": 3600, "d": 86400, "w": 7 * 86400}
        return sum(int(n) * unit[u] for n, u in re.findall(r"(\d+)([hdw])", self.retention))

    @property
    def window(self) -> int:
        """Unacknowledged messages the broker sends before it waits for acknowledgements."""
        return self.receive_maximum if self.mqtt_protocol == "5" else self.inflight_window

    @property
    def subscription(self) -> str:
        return f"$share/{self.share_group}/{self.topic}" if self.share_group else self.topic

    @classmethod
    def from_env(cls, config_file: str | Path | None = None, **overrides: Any) -> "IngestConfig":
        """Shared settings first (file, FENWEI_*), then FENWEI_INGEST_*, then ``overrides``."""
        shared = load_settings(config_file)
        base = {"mqtt_url": shared.mqtt_url, "store_url": shared.store_url,
                "state_path": shared.data_dir / "ingest-state.sqlite",
                "mqtt_ca_file": shared.mqtt_ca_file, "mqtt_cert_file": shared.mqtt_cert_file,
                "mqtt_key_file": shared.mqtt_key_file}
        if shared.mqtt_client_id:
            base["client_id"] = shared.mqtt_client_id
        try:
            env = cls()
            given = env.model_dump(exclude_unset=True)
            return cls(**{**base, **given, **{k: v for k, v in overrides.items()
                                               if v is not None}})
        except ValidationError as exc:
            raise SettingsError(f"invalid ingest settings: {exc.errors()[0]['msg']}") from None

    @classmethod
    def from_config(cls, config) -> "IngestConfig":
        """The ``[ingest]`` section of a :class:`core.config.Config` (file, FENWEI_INGEST_*)
        over the shared ``[fenwei]`` values; raises pydantic's ValidationError."""
        shared = config.settings
        base: dict[str, Any] = {"mqtt_url": shared.mqtt_url, "store_url": shared.store_url,
                                "state_path": shared.data_dir / "ingest-state.sqlite",
                                "mqtt_ca_file": shared.mqtt_ca_file,
                                "mqtt_cert_file": shared.mqtt_cert_file,
                                "mqtt_key_file": shared.mqtt_key_file}
        if shared.mqtt_client_id:
            base["client_id"] = shared.mqtt_client_id
        return cls.model_validate({**base, **config.values("ingest")})

    def servers(self) -> list[str]:
        """The servers this section names (``fenwei config check`` tries them)."""
        return [self.mqtt_url, self.store_url]

    def __repr__(self) -> str:
        return (f"IngestConfig(mqtt_url={mask_url(self.mqtt_url)!r}, "
                f"store_url={mask_url(self.store_url)!r}, client_id={self.client_id!r}, "
                f"subscription={self.subscription!r})")

    __str__ = __repr__
