"""Ingest: MQTT readings (wire format v1) into the time-series store, acknowledged after
the write, with dead letters, back-pressure, completeness tracking and metrics."""
from ._config import IngestConfig
from core.deadletters import INGEST_REASONS, DeadLetter, count_dead_letters, list_dead_letters
from ._retention import apply_retention
from ._service import Ingestor
from ._tracker import Tracker

__all__ = ["INGEST_REASONS", "DeadLetter", "IngestConfig", "Ingestor", "Tracker",
           "apply_retention", "count_dead_letters", "list_dead_letters"]
