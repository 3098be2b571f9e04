"""Every call of a plugin at a hook point.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30

``hook_calls`` keeps one row per plugin call (point, plugin, mode, outcome, verdict,
latency, error, what of its answer was dropped for lack of permission), written by the
hook runtime in batches; a plugin's log and its figures are read from it (newest first,
by id: ids are time-ordered).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"


def upgrade() -> None:
    op.create_table(
        "hook_calls",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("point", sa.Text, nullable=False),
        sa.Column("plugin", sa.Text, nullable=False),
        sa.Column("mode", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("verdict", sa.Text, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("dropped", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_hook_calls"),
    )
    op.create_index("ix_hook_calls_plugin_id", "hook_calls", ["plugin", "id"])


def downgrade() -> None:
    op.drop_index("ix_hook_calls_plugin_id", table_name="hook_calls")
    op.drop_table("hook_calls")
