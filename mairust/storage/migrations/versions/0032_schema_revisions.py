"""The phase of every migration, for code older than the schema (rolling upgrades).

Revision ID: 0032
Revises: 0031
Create Date: 2026-11-30

``schema_revisions`` holds one row per migration of the chain the newest migrating code
knows: its phase (expand or contract), why a contract step is safe, and the oldest code
revision that may run on the schema it leaves. A process whose code is older than the
database reads it to decide whether it may run (mairust/storage/schema_revisions.py);
the rows are written by the migrating process after its upgrade, not here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"


def upgrade() -> None:
    op.create_table(
        "schema_revisions",
        sa.Column("revision", sa.Text, nullable=False),
        sa.Column("down_revision", sa.Text, nullable=True),
        sa.Column("phase", sa.Text, nullable=False),
        sa.Column("oldest_code", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("revision", name="pk_schema_revisions"),
    )


def downgrade() -> None:
    op.drop_table("schema_revisions")
