"""Air-quality (per city, 96 h hourly quantiles) and river-flow (per section, 7 days) forecasts.

The warning rules read forecasts through :func:`latest_city_forecast` (or the persistence
stand-in :func:`persistence_city_forecast`, same interface): a :class:`CityForecast` with an
hourly quantile frame and :meth:`CityForecast.rolling_aqi` (rolling-24 h AQI and
P(AQI > 200) per hour). The simulator adapter lives in :mod:`forecasting.sim`.
"""
from __future__ import annotations

from ._air import AirModel, DayForecast
from ._backtest import BacktestResult, format_table, run_backtest
from ._flow import PLACEHOLDER_TARGETS, FlowForecast, FlowModel
from ._interface import (BASELINE_ID, CityForecast, latest_city_forecast,
                         latest_city_forecasts, persistence_city_forecast)
from ._met import MET_VARS, MetFeed, MetForecast, StoreMetFeed, issue_tag, write_met_forecast
from ._registry import Registry, library_versions
from ._schedule import build_scheduler
from ._scores import Contingency, mae, pinball, rmse, skill
from ._observed import LABEL as OBSERVED_MET_LABEL, ObservedMetFeed
from ._service import ForecastService, issued_forecasts
from ._settings import ForecastSettings
from ._weather import (OPEN_METEO_URL, FetchResult, WeatherFetchError, fetch_open_meteo,
                       import_weather_csv)
from .errors import (FeedError, ForecastError, ModelIncompatible, NoForecast,
                     RegistryError)

__all__ = [
    "AirModel", "BASELINE_ID", "BacktestResult", "CityForecast", "Contingency", "DayForecast",
    "FeedError", "FlowForecast", "FlowModel", "ForecastError", "ForecastService",
    "ForecastSettings", "MET_VARS", "MetFeed", "MetForecast", "ModelIncompatible",
    "NoForecast", "OBSERVED_MET_LABEL", "ObservedMetFeed", "PLACEHOLDER_TARGETS", "Registry", "RegistryError", "StoreMetFeed",
    "build_scheduler", "format_table", "issue_tag", "latest_city_forecast",
    "latest_city_forecasts",
    "issued_forecasts", "library_versions", "mae", "persistence_city_forecast", "pinball", "rmse", "run_backtest",
    "skill", "write_met_forecast",
    "OPEN_METEO_URL", "FetchResult", "WeatherFetchError", "fetch_open_meteo",
    "import_weather_csv",
]
