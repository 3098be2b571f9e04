"""Delay DSNs: when an outbound recipient's one "delayed" notice was made.

Revision ID: 0030
Revises: 0028
Create Date: 2026-11-30

``outbound_recipients.delay_notified_at`` is set in the settle that commits the recipient's
"delayed" DSN (RFC 3464), so it is made once, whatever restarts come after.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "outbound_recipients",
        sa.Column("delay_notified_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("outbound_recipients") as batch:
        batch.drop_column("delay_notified_at")
