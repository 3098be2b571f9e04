"""The platform's newest-first listings read an index: mailbox entries, events and
webhook deliveries of every tenant.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-01

A platform admin's ``GET /api/v1/messages``, ``/events`` and ``/webhooks/deliveries`` with
no tenant named (the admin UI's first pages, ``mairust events``) ordered every row by time
and id with no index leading with them, so each page sorted the whole table: 17 ms a page
at 2,000 entries on SQLite, growing with the table, and the events table grows fastest.
Tenant and mailbox listings already had their indexes; these are the platform's.

On PostgreSQL the indexes are built inside the migration's transaction (the migration lock
is a transaction lock): writes to these tables wait while they are built.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"

INDEXES = {
    "ix_entries_received": ("entries", ["received_at", "id"]),
    "ix_events_at": ("events", ["at", "id"]),
    "ix_webhook_deliveries_created": ("webhook_deliveries", ["created_at", "id"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _) in INDEXES.items():
        op.drop_index(name, table_name=table)
