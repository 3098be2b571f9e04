"""Entries keep their thread, threading headers, flags and authentication words.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29

``entries`` gains ``thread_id`` (an entry id shared by the thread's entries in one
mailbox), the normalised Message-ID, In-Reply-To and References it was threaded by, the
``seen`` and ``flagged`` flags, and one word per authentication method (auth_spf,
auth_dkim, auth_dmarc, auth_arc) so listings filter on them without reading JSON.
``thread_links`` holds one row per id an entry is joined to (its own and the ones it
references), indexed by (mailbox_id, msgid), for the store-time thread lookup.

Entries stored before this revision have no headers on record (they would need their
blobs parsed): each becomes a thread of its own, and a later reply cannot find it.
Their authentication words are filled in here from ``messages.auth_results``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
# Chained on 0005 while 0006-0008 are written on other branches; "0008" at the merge.
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "contract"
reason = (
    "written before the rule: it made entries.thread_id and entries.header_references NOT "
    "NULL without a server default in the step that added them, so the code of 0008, which "
    "stores entries without them, cannot store mail on this schema"
)
oldest_code = "0009"  # a barrier: no older code runs on it

_BATCH = 1000


def upgrade() -> None:
    op.add_column("entries", sa.Column("thread_id", sa.Text, nullable=True))
    op.add_column("entries", sa.Column("header_message_id", sa.Text, nullable=True))
    op.add_column("entries", sa.Column("header_in_reply_to", sa.Text, nullable=True))
    op.add_column("entries", sa.Column("header_references", sa.Text, nullable=True))
    for flag in ("seen", "flagged"):
        op.add_column(
            "entries",
            sa.Column(flag, sa.Boolean, nullable=False, server_default=sa.false()),
        )
    for method in ("spf", "dkim", "dmarc", "arc"):
        op.add_column("entries", sa.Column(f"auth_{method}", sa.Text, nullable=True))
    op.execute("UPDATE entries SET thread_id = id, header_references = '[]'")
    _fill_auth_words()
    with op.batch_alter_table("entries") as batch:
        batch.alter_column("thread_id", existing_type=sa.Text, nullable=False)
        batch.alter_column("header_references", existing_type=sa.Text, nullable=False)
    op.create_index(
        "ix_entries_mailbox_thread_received",
        "entries",
        ["mailbox_id", "thread_id", "received_at", "id"],
    )
    op.create_table(
        "thread_links",
        sa.Column("entry_id", sa.Text, nullable=False),
        sa.Column("msgid", sa.Text, nullable=False),
        sa.Column("mailbox_id", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("entry_id", "msgid", name="pk_thread_links"),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["entries.id"],
            name="fk_thread_links_entry_id_entries",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_thread_links_mailbox_msgid", "thread_links", ["mailbox_id", "msgid"])


def _fill_auth_words() -> None:
    """One word per method from the message's results (the rule of
    ``AuthResults.summary_words`` as it is at this revision, copied to stay frozen)."""
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT e.id, m.auth_results FROM entries e JOIN messages m ON m.id = e.message_id "
            "WHERE m.auth_results IS NOT NULL"
        )
    ).all()
    update = sa.text(
        "UPDATE entries SET auth_spf = :spf, auth_dkim = :dkim, auth_dmarc = :dmarc, "
        "auth_arc = :arc WHERE id = :id"
    )
    for start in range(0, len(rows), _BATCH):
        chunk = rows[start : start + _BATCH]
        conn.execute(update, [{"id": row[0], **_words(row[1])} for row in chunk])


def _words(text: str) -> dict[str, Any]:
    results = json.loads(text)
    dkim = results.get("dkim") or []
    passed = any(d.get("result") == "pass" for d in dkim)
    return {
        "spf": (results.get("spf") or {}).get("result"),
        "dkim": ("pass" if passed else dkim[0].get("result")) if dkim else None,
        "dmarc": (results.get("dmarc") or {}).get("result"),
        "arc": (results.get("arc") or {}).get("result"),
    }


def downgrade() -> None:
    op.drop_table("thread_links")
    op.drop_index("ix_entries_mailbox_thread_received", table_name="entries")
    with op.batch_alter_table("entries") as batch:
        for column in (
            "auth_arc",
            "auth_dmarc",
            "auth_dkim",
            "auth_spf",
            "flagged",
            "seen",
            "header_references",
            "header_in_reply_to",
            "header_message_id",
            "thread_id",
        ):
            batch.drop_column(column)
