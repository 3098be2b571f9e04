"""Messages keep their authentication results and accept-time annotations.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

Both are JSON text, nullable: messages accepted before this revision have neither.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"


def upgrade() -> None:
    op.add_column("messages", sa.Column("auth_results", sa.Text, nullable=True))
    op.add_column("messages", sa.Column("annotations", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("annotations")
        batch.drop_column("auth_results")
