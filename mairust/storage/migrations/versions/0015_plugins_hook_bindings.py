"""Installed plugins and their hook bindings.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30

``plugins`` keeps each installed plugin's manifest (as read and checked), whether it is on
and its configuration (checked against the manifest's schema). ``hook_bindings`` binds a
plugin to a hook point with its order, mode (enforce or shadow), on/off and optional
tenant and domain filters; uninstalling a plugin removes its bindings.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"


def upgrade() -> None:
    op.create_table(
        "plugins",
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("manifest", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_plugins"),
    )
    op.create_table(
        "hook_bindings",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("plugin", sa.Text, nullable=False),
        sa.Column("point", sa.Text, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("mode", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("tenant_id", sa.Text, nullable=True),
        sa.Column("domain", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_hook_bindings"),
        sa.ForeignKeyConstraint(
            ["plugin"],
            ["plugins.name"],
            name="fk_hook_bindings_plugin_plugins",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_hook_bindings_tenant_id_tenants"
        ),
        sa.ForeignKeyConstraint(
            ["domain"], ["domains.name"], name="fk_hook_bindings_domain_domains"
        ),
    )
    op.create_index("ix_hook_bindings_point_priority", "hook_bindings", ["point", "priority"])


def downgrade() -> None:
    op.drop_index("ix_hook_bindings_point_priority", table_name="hook_bindings")
    op.drop_table("hook_bindings")
    op.drop_table("plugins")
