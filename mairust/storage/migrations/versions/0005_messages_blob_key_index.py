"""An index on messages.blob_key.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

The blob sweeper asks, for each batch of blobs in the store, which ones a message row
names; without the index every such question scans the messages table.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"


def upgrade() -> None:
    op.create_index("ix_messages_blob_key", "messages", ["blob_key"])


def downgrade() -> None:
    op.drop_index("ix_messages_blob_key", table_name="messages")
