"""Folders that hold no message yet, and when an entry last changed folder.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29

Folders are names on entries; ``folders`` keeps the ones a user created (or renamed) so an
empty folder still lists. ``entries.moved_at`` is when the entry last changed folder: the
Trash and Junk retention counts from it (from ``received_at`` when it never moved), so a
year-old message deleted today is not purged on the next run.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
# Written on top of 0009; the other helpers' 0011-0013 chain on this one at the merge.
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"


def upgrade() -> None:
    op.create_table(
        "folders",
        sa.Column("mailbox_id", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("mailbox_id", "name", name="pk_folders"),
        sa.ForeignKeyConstraint(
            ["mailbox_id"], ["mailboxes.id"], name="fk_folders_mailbox_id_mailboxes"
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_folders_tenant_id_tenants"),
    )
    op.add_column("entries", sa.Column("moved_at", sa.DateTime(timezone=True), nullable=True))
    # Retention walks each Trash and Junk by the time their entries arrived there.
    op.create_index("ix_entries_folder_moved_at", "entries", ["folder", "moved_at"])


def downgrade() -> None:
    op.drop_index("ix_entries_folder_moved_at", table_name="entries")
    with op.batch_alter_table("entries") as batch:
        batch.drop_column("moved_at")
    op.drop_table("folders")
