"""The inspectors' workbench: export, completeness reports and screening for faults and
tampering, read through the store port (see docs/services/workbench.md)."""
from __future__ import annotations

from ._completeness import completeness, day_range, report
from ._export import (AGGREGATIONS, SelectionError, check_params, csv_chunks, export_frame,
                      header_lines, resolve_stations, write_xlsx, xlsx_tempfile)
from ._hourly import hourly, read_raw
from ._reviews import VERDICTS, ReviewError, ReviewStore, attach
from ._rules import ScreenConfig
from ._score import as_screened, score, screen_weeks
from ._screen import LIMITS, screen, screen_hourly
from ._validity import CAUSES, ValidityRules

__all__ = ["AGGREGATIONS", "CAUSES", "LIMITS", "ReviewError", "ReviewStore", "ScreenConfig",
           "SelectionError", "VERDICTS", "ValidityRules", "attach", "check_params",
           "completeness", "csv_chunks", "day_range", "export_frame", "header_lines", "hourly",
           "read_raw", "report", "resolve_stations", "as_screened", "score", "screen",
           "screen_hourly", "screen_weeks", "write_xlsx",
           "xlsx_tempfile"]
