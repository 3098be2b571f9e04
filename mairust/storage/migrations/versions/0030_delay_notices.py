"""Delay DSNs: when an outbound recipient's one "delayed" notice was made; the index the
DMARC reports we send read a period's refusals by.

Revision ID: 0030
Revises: 0028
Create Date: 2026-11-30

``outbound_recipients.delay_notified_at`` is set in the settle that commits the recipient's
"delayed" DSN (RFC 3464), so it is made once, whatever restarts come after.
``ix_events_rejections_at`` (partial: Rejection events only) finds a period's refusals,
whose events keep the auth results of a DMARC refusal.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"


def upgrade() -> None:
    op.add_column(
        "outbound_recipients",
        sa.Column("delay_notified_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_events_rejections_at",
        "events",
        ["at"],
        sqlite_where=sa.text("type = 'Rejection'"),
        postgresql_where=sa.text("type = 'Rejection'"),
    )


def downgrade() -> None:
    op.drop_index("ix_events_rejections_at", table_name="events")
    with op.batch_alter_table("outbound_recipients") as batch:
        batch.drop_column("delay_notified_at")
