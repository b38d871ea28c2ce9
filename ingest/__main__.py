"""``python -m ingest run ...`` (same as ``fenwei ingest run``)."""
from .cli import app

app()
