"""Recipient domains' MTA-STS policies, kept across restarts.

Revision ID: 0027
Revises: 0026
Create Date: 2026-11-30

``mta_sts_policies`` holds one fetched policy per recipient domain (its text, the TXT id
it came under, until when it holds), so a restarted delivery loop still applies it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"


def upgrade() -> None:
    op.create_table(
        "mta_sts_policies",
        sa.Column("domain", sa.Text, nullable=False),
        sa.Column("policy_id", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("domain", name="pk_mta_sts_policies"),
    )


def downgrade() -> None:
    op.drop_table("mta_sts_policies")
