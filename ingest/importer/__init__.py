"""``fenwei import``: bulk-load historical hourly data (prsa, cnemc, long) into the store.

Idempotent, resumable, with a progress bar and a summary; formats, units and the hour
convention are in docs/catalogue.md.
"""
from ._formats import PARSERS, FormatError, name_lookup
from ._load import Importer, ImportState, run_import
from ._model import Chunk, Summary
from ._units import (COMPASS, compass_to_deg, hpa_to_kpa, label_to_period_start,
                     rh_from_dewpoint, saturation_vapour_pressure, ug_to_mg)

__all__ = ["COMPASS", "PARSERS", "Chunk", "FormatError", "ImportState", "Importer", "Summary",
           "compass_to_deg", "hpa_to_kpa", "label_to_period_start", "name_lookup",
           "rh_from_dewpoint", "run_import", "saturation_vapour_pressure", "ug_to_mg"]
