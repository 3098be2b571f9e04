"""Mailbox quotas: a per-mailbox limit and a running usage counter.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29

``mailboxes.quota_bytes`` is the mailbox's own limit (NULL: the configured
``mailbox.default_quota_bytes`` applies; 0: unlimited). ``mailboxes.used_bytes`` is the
sum of the sizes of the mailbox's entries, kept by the entry store in the same
transaction that stores or purges an entry, so checking a quota never sums rows. It is
filled here from the entries stored before this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
# Written on 0009 while 0010 (mailboxes) and 0011 (events) are on other branches; the
# merge chains it on 0011.
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"


def upgrade() -> None:
    with op.batch_alter_table("mailboxes") as batch:
        batch.add_column(sa.Column("quota_bytes", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("used_bytes", sa.BigInteger, nullable=False, server_default="0"))
    op.execute(
        "UPDATE mailboxes SET used_bytes = COALESCE("
        "(SELECT SUM(entries.size) FROM entries WHERE entries.mailbox_id = mailboxes.id), 0)"
    )


def downgrade() -> None:
    with op.batch_alter_table("mailboxes") as batch:
        batch.drop_column("used_bytes")
        batch.drop_column("quota_bytes")
