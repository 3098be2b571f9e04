"""The outbound queue: remote recipients and their delivery attempts.

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-30

``outbound_recipients`` holds one row per (message, remote recipient), made by the spool's
commit and leased by the delivery loop; ``outbound_attempts`` one row per try (the trace).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "outbound_recipients",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("tenant_id", sa.Text, nullable=True),
        sa.Column("mail_from", sa.Text, nullable=False),
        sa.Column("recipient", sa.Text, nullable=False),
        sa.Column("destination", sa.Text, nullable=False),
        sa.Column("relay_host", sa.Text, nullable=True),
        sa.Column("notify", sa.Text, nullable=True),
        sa.Column("orcpt", sa.Text, nullable=True),
        sa.Column("ret", sa.Text, nullable=True),
        sa.Column("envid", sa.Text, nullable=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", _TIME, nullable=False),
        sa.Column("lease_owner", sa.Text, nullable=True),
        sa.Column("lease_until", _TIME, nullable=True),
        sa.Column("last_reply", sa.Text, nullable=True),
        sa.Column("bounce_class", sa.Text, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_outbound_recipients"),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name="fk_outbound_recipients_message_id_messages"
        ),
        sa.UniqueConstraint(
            "message_id", "recipient", name="uq_outbound_recipients_message_id_recipient"
        ),
    )
    op.create_index(
        "ix_outbound_recipients_state_next_attempt_at",
        "outbound_recipients",
        ["state", "next_attempt_at"],
    )
    op.create_index(
        "ix_outbound_recipients_destination_state", "outbound_recipients", ["destination", "state"]
    )
    op.create_table(
        "outbound_attempts",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("recipient_id", _ID, nullable=False),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("recipient", sa.Text, nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("reply", sa.Text, nullable=False),
        sa.Column("host", sa.Text, nullable=True),
        sa.Column("address", sa.Text, nullable=True),
        sa.Column("bounce_class", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbound_attempts"),
    )
    op.create_index("ix_outbound_attempts_message_id", "outbound_attempts", ["message_id"])


def downgrade() -> None:
    op.drop_table("outbound_attempts")
    op.drop_table("outbound_recipients")
