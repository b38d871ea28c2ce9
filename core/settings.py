"""One settings scheme for every service: environment variables (FENWEI_*) over a TOML file.

The three connections are URLs:

* ``FENWEI_MQTT_URL``  ``mqtt://user:pass@host:1883`` or ``mqtts://`` for TLS
* ``FENWEI_STORE_URL`` ``influxdb://user:pass@host:8086/dbname``,
  ``influxdb2://:token@host:8086/bucket?org=ORG`` or ``duckdb:///path/file.duckdb``
* ``FENWEI_STATE_URL`` ``sqlite:///path`` or ``postgresql://...``

A bad setting stops the service with a message naming it; secrets never appear in messages.
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names it."""


def mask_url(url: str) -> str:
    """The URL with any password or token replaced by ``***``.

    Works on the text, not on ``urlsplit``: a password with an unescaped ``/``, ``#`` or ``@``
    must be masked too (everything between ``user:`` and the last ``@``).
    """
    at = url.rfind("@")
    if at < 0:
        return url
    start = url.find("://") + 3 if "://" in url[:at] else 0
    user, colon, _secret = url[start:at].partition(":")
    return f"{url[:start]}{user}:***{url[at:]}" if colon else url


def _check_scheme(name: str, url: str, schemes: tuple[str, ...]) -> str:
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in schemes:
        raise ValueError(f"{name} must start with one of {', '.join(s + '://' for s in schemes)}"
                         f" (got {mask_url(url)!r})")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:  # the message could quote part of a password
        raise ValueError(f"{name}: bad host or port in {mask_url(url)!r}") from None
    return url


class Settings(BaseSettings):
    """Settings shared by all services; each service reads the part it needs."""

    model_config = SettingsConfigDict(env_prefix="FENWEI_", extra="ignore")

    mqtt_url: str = "mqtt://127.0.0.1:1883"
    store_url: str = "duckdb://fenwei.duckdb"
    state_url: str = "sqlite:///fenwei-state.db"
    data_dir: Path = Path(".")
    log_level: str = "INFO"
    mqtt_client_id: str = ""
    mqtt_ca_file: Path | None = None
    mqtt_cert_file: Path | None = None
    mqtt_key_file: Path | None = None
    store_max_rows: int = 1_000_000

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt(cls, v: str) -> str:
        return _check_scheme("FENWEI_MQTT_URL", v, ("mqtt", "mqtts", "ws", "wss"))

    @field_validator("store_url")
    @classmethod
    def _store(cls, v: str) -> str:
        return _check_scheme("FENWEI_STORE_URL", v, ("influxdb", "influxdbs", "influxdb2",
                                                     "influxdb2s", "duckdb"))

    @field_validator("state_url")
    @classmethod
    def _state(cls, v: str) -> str:
        return _check_scheme("FENWEI_STATE_URL", v, ("sqlite", "postgresql",
                                                     "postgresql+psycopg2"))

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        if v.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("FENWEI_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
        return v.upper()

    def __repr__(self) -> str:
        return (f"Settings(mqtt_url={mask_url(self.mqtt_url)!r}, "
                f"store_url={mask_url(self.store_url)!r}, "
                f"state_url={mask_url(self.state_url)!r})")

    __str__ = __repr__


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Read ``[fenwei]`` (or top-level keys) from a TOML file, then FENWEI_* variables win.

    ``config_file`` defaults to ``$FENWEI_CONFIG`` when set. Raises :class:`SettingsError`.
    """
    config_file = config_file or os.environ.get("FENWEI_CONFIG")
    file_values: dict[str, Any] = {}
    if config_file:
        try:
            doc = tomllib.loads(Path(config_file).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"config file {config_file}: {exc}") from exc
        file_values = doc.get("fenwei", doc)
    env = {k[7:].lower() for k in os.environ if k.startswith("FENWEI_")}
    init = {k: v for k, v in file_values.items() if k not in env and k in Settings.model_fields}
    init.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**init)
    except ValidationError as exc:
        raise SettingsError(_explain(exc)) from None


def _explain(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        name = "FENWEI_" + "_".join(str(p) for p in err["loc"]).upper()
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{name}: {msg}" if name not in msg else msg)
    return "invalid settings: " + "; ".join(lines)
