"""Alert state tables (SQLAlchemy Core), the engine factory and the programmatic migration.

The schema is created and upgraded only by the alembic migrations in ``alerts/migrations``;
these table objects describe it for queries.
"""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.settings import SettingsError
from core.statedb import UTC
from core.statedb import make_engine as _make_engine

from .errors import ConfigError

OPEN_STATES = ("pending", "active", "acknowledged")


BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
md = sa.MetaData()

alerts = sa.Table(
    "alerts", md,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("rule_id", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(96), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("level", sa.String(16)),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("open", sa.Boolean, nullable=False),
    sa.Column("cities", sa.JSON, nullable=False),
    sa.Column("exercise", sa.Boolean, nullable=False),
    sa.Column("retrospective", sa.Boolean, nullable=False),
    sa.Column("notified", sa.Boolean, nullable=False),
    sa.Column("opened_at", UTC, nullable=False),
    sa.Column("activated_at", UTC),
    sa.Column("updated_at", UTC, nullable=False),
    sa.Column("resolved_at", UTC),
    sa.Column("first_observed_at", UTC, nullable=False),
    sa.Column("observed_at", UTC, nullable=False),
    sa.Column("ack_by", sa.String(128)),
    sa.Column("ack_note", sa.Text),
    sa.Column("ack_at", UTC),
    sa.Column("escalation_step", sa.Integer, nullable=False),
    sa.Column("last_notified_at", UTC),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("cap_refs", sa.JSON, nullable=False),
    sa.Column("evidence", sa.JSON, nullable=False),
    sa.Column("held", sa.String(16)),          # the event a silence or inhibition holds
    sa.Column("peak_level", sa.String(16)),    # the highest level reached
)
sa.Index("uq_alerts_open_rule_subject", alerts.c.rule_id, alerts.c.subject, unique=True,
         sqlite_where=alerts.c.open, postgresql_where=alerts.c.open)

rule_state = sa.Table(
    "rule_state", md,
    sa.Column("rule_id", sa.String(64), primary_key=True),
    sa.Column("subject", sa.String(96), primary_key=True),
    sa.Column("state", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16)),
    sa.Column("level", sa.String(16)),
    sa.Column("retrospective", sa.Boolean, nullable=False),
    sa.Column("observed_at", UTC),
    sa.Column("updated_at", UTC, nullable=False),
)

audit = sa.Table(
    "audit", md,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("alert_id", sa.String(40), index=True),
    sa.Column("rule_id", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(96), nullable=False),
    sa.Column("at", UTC, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("from_state", sa.String(16)),
    sa.Column("to_state", sa.String(16)),
    sa.Column("level", sa.String(16)),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("evidence", sa.JSON, nullable=False),
)

outbox = sa.Table(
    "outbox", md,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
    sa.Column("alert_id", sa.String(40), nullable=False, index=True),
    sa.Column("event", sa.String(16), nullable=False),
    sa.Column("recipient_id", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("target", sa.String(500), nullable=False),
    sa.Column("options", sa.JSON, nullable=False),
    sa.Column("body", sa.JSON, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTC, nullable=False),
    sa.Column("claimed_by", sa.String(128)),
    sa.Column("claimed_until", UTC),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UTC, nullable=False),
    sa.Column("delivered_at", UTC),
    sa.Column("group_key", sa.String(300)),    # rows of one key go out as one message
)
sa.Index("ix_outbox_due", outbox.c.status, outbox.c.next_attempt_at)
sa.Index("ix_outbox_group", outbox.c.group_key, outbox.c.status)

receipts = sa.Table(
    "receipts", md,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("outbox_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("at", UTC, nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("instance", sa.String(128), nullable=False),
)

silences = sa.Table(
    "silences", md,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("rule_id", sa.String(64)),
    sa.Column("subject", sa.String(96)),
    sa.Column("starts_at", UTC, nullable=False),
    sa.Column("ends_at", UTC, nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", UTC, nullable=False),
    sa.Column("kind", sa.String(64)),
    sa.Column("city", sa.String(64)),
    sa.Column("station", sa.String(64)),
    sa.Column("section", sa.String(64)),
    sa.Column("level", sa.String(16)),
    sa.Column("expired_by", sa.String(128)),
    sa.Column("expired_at", UTC),
)
SILENCE_MATCHERS = ("rule_id", "subject", "kind", "city", "station", "section", "level")


def make_engine(url: str) -> Engine:
    """The shared state-database engine (core.statedb), with the alerts' error type."""
    try:
        return _make_engine(url)
    except SettingsError as exc:
        raise ConfigError(str(exc)) from None


def _alembic_config():
    from alembic.config import Config
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return cfg


def schema_current(engine: Engine) -> bool:
    """Whether the schema is at the newest migration (read only)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    heads = set(ScriptDirectory.from_config(_alembic_config()).get_heads())
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads()) == heads


def migrate(engine: Engine) -> None:
    """Upgrade the schema to the newest migration (serialised across processes)."""
    from alembic import command

    cfg = _alembic_config()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(826311)"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")

