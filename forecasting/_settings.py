"""Forecasting settings (``FENWEI_FORECAST_*``); the store URL is the shared FENWEI_STORE_URL."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ForecastSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FENWEI_FORECAST_", extra="ignore")

    registry_dir: Path = Path("models")  # versioned model artefacts
    issue_every_h: int = Field(6, ge=1, le=24)  # issues at 00/06/12/18 CST by default
    retrain_every_d: int = Field(7, ge=1)
    verify_hour_cst: int = Field(9, ge=0, le=23)
    history_days: int = Field(400, ge=30)  # training history read from the store
    holdout_days: int = Field(14, ge=3)  # backtest period deciding promotion
    warn_probability: float = Field(0.4, gt=0, lt=1)  # P(AQI > 200) that counts as "warn"
    weather_url: str = ""  # Open-Meteo-compatible /v1/forecast URL; "" = no periodic fetch
    weather_every_h: int = Field(6, ge=1, le=24)  # fetch 20 min before every Nth CST hour

    @classmethod
    def from_config(cls, config) -> "ForecastSettings":
        """The ``[forecast]`` section of a :class:`core.config.Config` (file,
        FENWEI_FORECAST_*); ``registry_dir`` defaults to ``models`` under ``[fenwei] data_dir``."""
        values = config.values("forecast")
        values.setdefault("registry_dir", config.settings.data_dir / "models")
        return cls.model_validate(values)
