"""A plugin's figures beside its call log, and its circuit breakers.

Revision ID: 0020
Revises: 0016
Create Date: 2026-11-30

``hook_call_counts`` and ``hook_call_latency`` are running totals per plugin, point and mode
(by outcome and verdict; by latency bucket), updated in the transaction that appends to
``hook_calls``: metrics and the figures route read a few rows instead of the log.
``hook_breakers`` holds what each process last said of a plugin's circuit breaker.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"


def upgrade() -> None:
    op.create_table(
        "hook_call_counts",
        sa.Column("plugin", sa.Text, nullable=False),
        sa.Column("point", sa.Text, nullable=False),
        sa.Column("mode", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("verdict", sa.Text, nullable=False),
        sa.Column("calls", sa.BigInteger, nullable=False),
        sa.Column("latency_ms_sum", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint(
            "plugin", "point", "mode", "outcome", "verdict", name="pk_hook_call_counts"
        ),
    )
    op.create_table(
        "hook_call_latency",
        sa.Column("plugin", sa.Text, nullable=False),
        sa.Column("point", sa.Text, nullable=False),
        sa.Column("mode", sa.Text, nullable=False),
        sa.Column("bucket", sa.Integer, nullable=False),
        sa.Column("calls", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("plugin", "point", "mode", "bucket", name="pk_hook_call_latency"),
    )
    op.create_table(
        "hook_breakers",
        sa.Column("plugin", sa.Text, nullable=False),
        sa.Column("holder", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("open_seconds", sa.Float, nullable=False),
        sa.Column("times_opened", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("plugin", "holder", name="pk_hook_breakers"),
    )


def downgrade() -> None:
    op.drop_table("hook_breakers")
    op.drop_table("hook_call_latency")
    op.drop_table("hook_call_counts")
