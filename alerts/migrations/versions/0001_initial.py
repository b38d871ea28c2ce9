"""Initial alert state schema: alerts, rule_state, audit, outbox, receipts, silences.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "alerts",
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
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("activated_at", TS),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("resolved_at", TS),
        sa.Column("first_observed_at", TS, nullable=False),
        sa.Column("observed_at", TS, nullable=False),
        sa.Column("ack_by", sa.String(128)),
        sa.Column("ack_note", sa.Text),
        sa.Column("ack_at", TS),
        sa.Column("escalation_step", sa.Integer, nullable=False),
        sa.Column("last_notified_at", TS),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("cap_refs", sa.JSON, nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
    )
    op.create_index("uq_alerts_open_rule_subject", "alerts", ["rule_id", "subject"],
                    unique=True, sqlite_where=sa.text("open"),
                    postgresql_where=sa.text("open"))
    op.create_table(
        "rule_state",
        sa.Column("rule_id", sa.String(64), primary_key=True),
        sa.Column("subject", sa.String(96), primary_key=True),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16)),
        sa.Column("level", sa.String(16)),
        sa.Column("retrospective", sa.Boolean, nullable=False),
        sa.Column("observed_at", TS),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "audit",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.String(40), index=True),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(96), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(16)),
        sa.Column("to_state", sa.String(16)),
        sa.Column("level", sa.String(16)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
    )
    op.create_table(
        "outbox",
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
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("claimed_by", sa.String(128)),
        sa.Column("claimed_until", TS),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("delivered_at", TS),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])
    op.create_table(
        "receipts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("outbox_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("instance", sa.String(128), nullable=False),
    )
    op.create_table(
        "silences",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("rule_id", sa.String(64)),
        sa.Column("subject", sa.String(96)),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )


def downgrade() -> None:
    for table in ("silences", "receipts", "outbox", "audit", "rule_state", "alerts"):
        op.drop_table(table)
