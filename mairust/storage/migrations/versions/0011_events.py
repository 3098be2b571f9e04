"""The event log: one row per tenant event (received, rejected, delivered, ...).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29

Indexed for the lookups the API makes, each through the tenant: a tenant's log by time,
and a message trace by queue id, by Message-ID header or by recipient. Rows the webhook
drain has not published yet are found through a partial index on ``NOT published``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
# Written on 0009 while 0010 is on another branch; chained at the merge.
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("message_id", sa.Text, nullable=True),
        sa.Column("header_message_id", sa.Text, nullable=True),
        sa.Column("recipient", sa.Text, nullable=True),
        sa.Column("reply", sa.Text, nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
        sa.Column("published", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_tenant_at", "events", ["tenant_id", "at", "id"])
    op.create_index("ix_events_tenant_message", "events", ["tenant_id", "message_id"])
    op.create_index("ix_events_tenant_header_message", "events", ["tenant_id", "header_message_id"])
    op.create_index("ix_events_tenant_recipient_at", "events", ["tenant_id", "recipient", "at"])
    op.create_index(
        "ix_events_unpublished",
        "events",
        ["id"],
        sqlite_where=sa.text("NOT published"),
        postgresql_where=sa.text("NOT published"),
    )


def downgrade() -> None:
    op.drop_table("events")
