"""When each background loop last made progress, for the health check.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

The dispatcher's lease loop runs in a Ray actor; the API answers /healthz in another
process. The loop writes its last lease time here (every few seconds, not per batch),
and the health check compares it with the age of the oldest due queue row.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"


def upgrade() -> None:
    op.create_table(
        "loop_heartbeats",
        sa.Column("loop", sa.Text, nullable=False),
        sa.Column("instance", sa.Text, nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("loop", "instance", name="pk_loop_heartbeats"),
    )


def downgrade() -> None:
    op.drop_table("loop_heartbeats")
