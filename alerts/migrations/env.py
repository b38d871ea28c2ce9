"""Alembic environment: runs on the connection handed over by ``alerts._db.migrate``."""
from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only programmatic use is supported
    raise RuntimeError("run migrations through alerts._db.migrate(engine)")
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
