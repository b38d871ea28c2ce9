"""Rule types. Each registers with one line in :data:`RULE_TYPES`."""
from ._base import PeriodicRule, Rule, RuleConfig, Signal, StreamingRule
from .offline import StationOfflineRule
from .threshold import ThresholdRule

RULE_TYPES: dict[str, type[Rule]] = {
    "threshold": ThresholdRule,
    "station_offline": StationOfflineRule,
    **__import__(f"{__name__}.ecoflow", fromlist=["*"]).RULES,
    **__import__(f"{__name__}.liveness", fromlist=["*"]).RULES,
    **__import__(f"{__name__}.quality", fromlist=["*"]).RULES,
    **__import__(f"{__name__}.dead_letters", fromlist=["*"]).RULES,
    "air_warning": __import__(f"{__name__}.air_warning", fromlist=["*"]).AirWarningRule,
    "air_regional": __import__(f"{__name__}.regional", fromlist=["*"]).RegionalRule,
    "aqi_realtime": __import__(f"{__name__}.aqi_realtime", fromlist=["*"]).AqiRealtimeRule,
}

__all__ = ["PeriodicRule", "RULE_TYPES", "Rule", "RuleConfig", "Signal", "StationOfflineRule",
           "StreamingRule", "ThresholdRule"]
