"""Learning plugins' trained models.

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30

``plugin_models`` holds a learning plugin's trained model (opaque bytes it wrote) per
version; every replica of the plugin runs the newest. Uninstalling the plugin removes them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"


def upgrade() -> None:
    op.create_table(
        "plugin_models",
        sa.Column("plugin", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("model", sa.LargeBinary, nullable=False),
        sa.Column("examples", sa.Integer, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("plugin", "version", name="pk_plugin_models"),
        sa.ForeignKeyConstraint(
            ["plugin"], ["plugins.name"], name="fk_plugin_models_plugin_plugins", ondelete="CASCADE"
        ),
    )


def downgrade() -> None:
    op.drop_table("plugin_models")
