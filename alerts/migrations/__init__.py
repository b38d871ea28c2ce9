"""Alembic migrations of the alert state schema (run programmatically by alerts._db.migrate)."""
