"""Heavy-pollution weather warnings: gradings as data, episodes, holding and lifting.

Used by the rule types ``air_warning``, ``air_regional`` and ``aqi_realtime``
(``alerts/rules``); see docs/services/air-warnings.md.
"""
from __future__ import annotations

from ._assess import RESPONSE_EN, Assessment, Grader, default_forecasts, forecast_sequence
from ._cover import covering, regional_floor
from ._episode import (AqiSequence, Grade, below_hours, episode_type, episodes, grade, hold,
                       majority_level, match, primary_of)
from ._grading import (Condition, Criterion, Grading, check_city_triggers, get_grading,
                       load_gradings)

__all__ = [
    "AqiSequence", "Assessment", "RESPONSE_EN", "Condition", "Criterion", "Grade", "Grader", "Grading",
    "below_hours", "check_city_triggers", "covering", "default_forecasts", "episode_type", "episodes",
    "forecast_sequence", "get_grading", "grade", "hold", "load_gradings", "majority_level",
    "match", "primary_of", "regional_floor",
]
