"""Aliases and catch-alls per domain, and each domain's DKIM key (public half).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29

``aliases`` holds one row per alias address (in a local domain of its tenant) and
``alias_targets`` one row per (alias, target mailbox), so a target named twice is one row
and gets one copy. ``domain_catchalls`` names the one mailbox that takes mail for unknown
addresses of a domain. ``domain_dkim_keys`` keeps a domain's DKIM selector and public key;
the private key lives in the secret store (``secret_id``), never here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
# Written on 0009 while 0010-0012 are written on other branches; chained at the merge.
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"


def upgrade() -> None:
    op.create_table(
        "aliases",
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("domain", sa.Text, nullable=False),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("address", name="pk_aliases"),
        sa.ForeignKeyConstraint(["domain"], ["domains.name"], name="fk_aliases_domain_domains"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_aliases_tenant_id_tenants"),
    )
    op.create_index("ix_aliases_domain_address", "aliases", ["domain", "address"])
    op.create_table(
        "alias_targets",
        sa.Column("alias_address", sa.Text, nullable=False),
        sa.Column("mailbox_id", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("alias_address", "mailbox_id", name="pk_alias_targets"),
        sa.ForeignKeyConstraint(
            ["alias_address"],
            ["aliases.address"],
            name="fk_alias_targets_alias_address_aliases",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["mailbox_id"],
            ["mailboxes.id"],
            name="fk_alias_targets_mailbox_id_mailboxes",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_alias_targets_mailbox_id", "alias_targets", ["mailbox_id"])
    op.create_table(
        "domain_catchalls",
        sa.Column("domain", sa.Text, nullable=False),
        sa.Column("mailbox_id", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("domain", name="pk_domain_catchalls"),
        sa.ForeignKeyConstraint(
            ["domain"], ["domains.name"], name="fk_domain_catchalls_domain_domains"
        ),
        sa.ForeignKeyConstraint(
            ["mailbox_id"],
            ["mailboxes.id"],
            name="fk_domain_catchalls_mailbox_id_mailboxes",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "domain_dkim_keys",
        sa.Column("domain", sa.Text, nullable=False),
        sa.Column("selector", sa.Text, nullable=False),
        sa.Column("public_key", sa.Text, nullable=False),
        sa.Column("secret_id", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("domain", name="pk_domain_dkim_keys"),
        sa.ForeignKeyConstraint(
            ["domain"], ["domains.name"], name="fk_domain_dkim_keys_domain_domains"
        ),
    )


def downgrade() -> None:
    op.drop_table("domain_dkim_keys")
    op.drop_table("domain_catchalls")
    op.drop_index("ix_alias_targets_mailbox_id", table_name="alias_targets")
    op.drop_table("alias_targets")
    op.drop_index("ix_aliases_domain_address", table_name="aliases")
    op.drop_table("aliases")
