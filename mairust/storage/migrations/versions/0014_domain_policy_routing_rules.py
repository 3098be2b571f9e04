"""Each domain's own policy, and routing rules per domain.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30

``domains`` gains four nullable columns that override the configuration for mail to the
domain (SPF and DMARC enforcement, the largest message, messages per minute); NULL
inherits. ``routing_rules`` holds, per domain, local-part patterns tried in ``position``
order after the domain's mailboxes and aliases and before its catch-all: each sends a
matching address to a local mailbox, forwards it, or relays it to a host.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"


def upgrade() -> None:
    with op.batch_alter_table("domains") as batch:
        batch.add_column(sa.Column("spf_mode", sa.Text, nullable=True))
        batch.add_column(sa.Column("dmarc_mode", sa.Text, nullable=True))
        batch.add_column(sa.Column("max_message_bytes", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("messages_per_minute", sa.Integer, nullable=True))
    op.create_table(
        "routing_rules",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("domain", sa.Text, nullable=False),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("pattern", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_routing_rules"),
        sa.UniqueConstraint("domain", "pattern", name="uq_routing_rules_domain_pattern"),
        sa.ForeignKeyConstraint(
            ["domain"], ["domains.name"], name="fk_routing_rules_domain_domains"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_routing_rules_tenant_id_tenants"
        ),
    )
    op.create_index("ix_routing_rules_domain_position", "routing_rules", ["domain", "position"])


def downgrade() -> None:
    op.drop_index("ix_routing_rules_domain_position", table_name="routing_rules")
    op.drop_table("routing_rules")
    with op.batch_alter_table("domains") as batch:
        batch.drop_column("messages_per_minute")
        batch.drop_column("max_message_bytes")
        batch.drop_column("dmarc_mode")
        batch.drop_column("spf_mode")
