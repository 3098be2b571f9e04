"""Initial schema: directory, messages, queue, mailbox entries.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Types are spelled out here rather than imported from ``sql_schema`` so this revision
stays frozen when the code moves on: timestamps are ``DateTime(timezone=True)``
(timestamptz on PostgreSQL) and string lists are JSON text.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"

_TIME = sa.DateTime(timezone=True)
_QUEUE_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
        sa.UniqueConstraint("name", name="uq_tenants_name"),
    )
    op.create_table(
        "domains",
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_domains"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_domains_tenant_id_tenants"),
    )
    op.create_index("ix_domains_tenant_id", "domains", ["tenant_id"])
    op.create_table(
        "mailboxes",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("password_hash", sa.Text, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_mailboxes"),
        sa.UniqueConstraint("address", name="uq_mailboxes_address"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_mailboxes_tenant_id_tenants"
        ),
    )
    op.create_index("ix_mailboxes_tenant_id", "mailboxes", ["tenant_id"])
    op.create_table(
        "messages",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("blob_key", sa.Text, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mail_from", sa.Text, nullable=False),
        sa.Column("rcpt_tos", sa.Text, nullable=False),
        sa.Column("helo", sa.Text, nullable=False),
        sa.Column("client_ip", sa.Text, nullable=False),
        sa.Column("authenticated_as", sa.Text, nullable=True),
        sa.Column("received_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
    )
    op.create_table(
        "queue",
        sa.Column("id", _QUEUE_ID, autoincrement=True, nullable=False),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("recipient", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", _TIME, nullable=False),
        sa.Column("lease_owner", sa.Text, nullable=True),
        sa.Column("lease_until", _TIME, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_queue"),
        sa.UniqueConstraint("message_id", "recipient", name="uq_queue_message_id_recipient"),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name="fk_queue_message_id_messages"
        ),
    )
    op.create_index("ix_queue_state_next_attempt_at", "queue", ["state", "next_attempt_at"])
    op.create_table(
        "entries",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("mailbox_id", sa.Text, nullable=False),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("folder", sa.Text, nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("from_addr", sa.Text, nullable=False),
        sa.Column("to_addrs", sa.Text, nullable=False),
        sa.Column("date", _TIME, nullable=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("received_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_entries"),
        sa.UniqueConstraint("mailbox_id", "message_id", name="uq_entries_mailbox_id_message_id"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_entries_tenant_id_tenants"),
        sa.ForeignKeyConstraint(
            ["mailbox_id"], ["mailboxes.id"], name="fk_entries_mailbox_id_mailboxes"
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name="fk_entries_message_id_messages"
        ),
    )
    op.create_index(
        "ix_entries_mailbox_folder_received",
        "entries",
        ["mailbox_id", "folder", "received_at", "id"],
    )
    op.create_index("ix_entries_mailbox_received", "entries", ["mailbox_id", "received_at", "id"])
    op.create_index("ix_entries_tenant_received", "entries", ["tenant_id", "received_at", "id"])
    op.create_index("ix_entries_message_id", "entries", ["message_id"])


def downgrade() -> None:
    op.drop_table("entries")
    op.drop_table("queue")
    op.drop_table("messages")
    op.drop_table("mailboxes")
    op.drop_table("domains")
    op.drop_table("tenants")
