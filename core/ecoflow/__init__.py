"""Ecological flow on the Wei and Fen: targets as data, daily-mean flow, grades, reports."""
from ._daily import RatingCurve, daily_flow, hourly_discharge, store_daily_flow
from ._grading import LEVELS, DayGrade, Grading, grade_days
from ._plausibility import GaugeCheck, Suspect, suspect_gauges, suspect_hours
from ._reports import BENCHMARK, monday_list, monthly_compliance, yearly_summary
from ._targets import (Target, TargetError, TargetStore, TargetTable, packaged_targets,
                       parse_target)

__all__ = ["BENCHMARK", "DayGrade", "GaugeCheck", "Grading", "LEVELS", "RatingCurve", "Suspect",
           "Target", "TargetError", "TargetStore", "TargetTable", "daily_flow", "grade_days",
           "hourly_discharge", "monday_list", "monthly_compliance", "packaged_targets",
           "parse_target", "store_daily_flow", "suspect_gauges", "suspect_hours",
           "yearly_summary"]
