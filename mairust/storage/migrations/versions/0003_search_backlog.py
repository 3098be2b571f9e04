"""A durable backlog of entries still to be indexed for search.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

Delivery never waits for the search role: an entry whose indexing failed is written
here, in the same store as the entry, and the indexer drains it when search is back.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"


def upgrade() -> None:
    op.create_table(
        "search_backlog",
        sa.Column("entry_id", sa.Text, nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name="pk_search_backlog"),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["entries.id"], name="fk_search_backlog_entry_id_entries"
        ),
    )


def downgrade() -> None:
    op.drop_table("search_backlog")
