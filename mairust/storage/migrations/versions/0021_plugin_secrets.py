"""Plugin secrets: the platform's own secrets in the secret store, named per plugin.

Revision ID: 0021
Revises: 0017
Create Date: 2026-11-30

A plugin's manifest names the secrets it needs; their values are sealed like every other
secret (so a key rotation re-seals them too), as the platform's own: ``secrets.tenant_id``
may now be null. ``plugin_secrets`` says which secret row holds which of a plugin's names.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"


def upgrade() -> None:
    with op.batch_alter_table("secrets") as batch:
        batch.alter_column("tenant_id", existing_type=sa.Text, nullable=True)
    op.create_table(
        "plugin_secrets",
        sa.Column("plugin", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("secret_id", sa.Text, nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("plugin", "name", name="pk_plugin_secrets"),
        sa.ForeignKeyConstraint(
            ["plugin"],
            ["plugins.name"],
            name="fk_plugin_secrets_plugin_plugins",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["secret_id"], ["secrets.id"], name="fk_plugin_secrets_secret_id_secrets"
        ),
    )


def downgrade() -> None:
    op.drop_table("plugin_secrets")
    op.execute("DELETE FROM secrets WHERE tenant_id IS NULL")
    with op.batch_alter_table("secrets") as batch:
        batch.alter_column("tenant_id", existing_type=sa.Text, nullable=False)
