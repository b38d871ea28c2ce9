"""Silences with matchers, held notifications, ladder peaks and notification groups.

silences: matchers on kind, city, station, section and level (beside rule and subject), and
who expired one; alerts: the event a silence or an inhibition holds, the highest level
reached (an upgrade to a new peak re-arms the escalation ladder once); outbox: the group a
row is sent in (one message per recipient, channel and group key).

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("silences") as t:
        for name in ("kind", "city", "station", "section"):
            t.add_column(sa.Column(name, sa.String(64)))
        t.add_column(sa.Column("level", sa.String(16)))
        t.add_column(sa.Column("expired_by", sa.String(128)))
        t.add_column(sa.Column("expired_at", TS))
    with op.batch_alter_table("alerts") as t:
        t.add_column(sa.Column("held", sa.String(16)))
        t.add_column(sa.Column("peak_level", sa.String(16)))
    with op.batch_alter_table("outbox") as t:
        t.add_column(sa.Column("group_key", sa.String(300)))
    op.create_index("ix_outbox_group", "outbox", ["group_key", "status"])


def downgrade() -> None:
    op.drop_index("ix_outbox_group", "outbox")
    with op.batch_alter_table("outbox") as t:
        t.drop_column("group_key")
    with op.batch_alter_table("alerts") as t:
        t.drop_column("peak_level")
        t.drop_column("held")
    with op.batch_alter_table("silences") as t:
        for name in ("expired_at", "expired_by", "level", "section", "station", "city", "kind"):
            t.drop_column(name)
