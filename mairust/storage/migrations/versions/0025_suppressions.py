"""Each tenant's suppression list.

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-30

``suppressions`` holds the remote addresses a tenant must not send to (hard bounces,
complaints, unsubscribes, entries its admins added), one row per (tenant, address).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"


def upgrade() -> None:
    op.create_table(
        "suppressions",
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "address", name="pk_suppressions"),
    )


def downgrade() -> None:
    op.drop_table("suppressions")
