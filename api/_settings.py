"""Settings of the API process (``FENWEI_API_*``) over the shared ones (``core.settings``).

The alert state is read with the alert service's own settings (``FENWEI_ALERTS_*``: its
state URL, acknowledgement secret, recipients and rules files), so that what the API writes
notifies the same people the same way.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    """``FENWEI_API_*``; every field has a default."""

    model_config = SettingsConfigDict(env_prefix="FENWEI_API_", extra="ignore")

    # the ingest state file holding dead letters; the ingest service's own setting, read here
    # too (default: FENWEI_DATA_DIR/ingest-state.sqlite, as ingest's)
    ingest_state_path: Path | None = Field(None, validation_alias=AliasChoices(
        "FENWEI_API_INGEST_STATE_PATH", "FENWEI_INGEST_STATE_PATH"))
    migrate: bool = True   # upgrade the state schema at start; False: refuse an old schema
    # requests worked on at once; the rest wait in arrival order (api/admission.py); 0: off
    max_concurrent: int = Field(0, ge=0)

    def dead_letters_path(self, data_dir: Path) -> Path:
        return self.ingest_state_path or Path(data_dir) / "ingest-state.sqlite"
