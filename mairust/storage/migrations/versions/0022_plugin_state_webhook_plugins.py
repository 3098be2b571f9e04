"""Plugin state, and plugins' webhook endpoints in the webhook outbox.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30

``plugin_state``: a plugin's small key/value state (a greylist's triplets), each entry
with the time it expires. A ``webhook`` plugin's deliveries go through the tenants' one
durable outbox: its endpoint is a platform endpoint (``webhook_endpoints.tenant_id`` null,
``plugin`` naming it), and its deliveries have no tenant either. No scope of the webhook
API matches a null tenant, so neither a tenant nor the webhook API sees them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "plugin_state",
        sa.Column("plugin", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("plugin", "key", name="pk_plugin_state"),
    )
    op.create_index("ix_plugin_state_expires_at", "plugin_state", ["expires_at"])
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.alter_column("tenant_id", existing_type=sa.Text, nullable=True)
        batch.add_column(sa.Column("plugin", sa.Text, nullable=True))
        batch.create_unique_constraint("uq_webhook_endpoints_plugin", ["plugin"])
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.alter_column("tenant_id", existing_type=sa.Text, nullable=True)


def downgrade() -> None:
    op.execute(
        "DELETE FROM webhook_deliveries WHERE endpoint_id IN "
        "(SELECT id FROM webhook_endpoints WHERE plugin IS NOT NULL)"
    )
    op.execute("DELETE FROM webhook_endpoints WHERE plugin IS NOT NULL")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.alter_column("tenant_id", existing_type=sa.Text, nullable=False)
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.drop_constraint("uq_webhook_endpoints_plugin", type_="unique")
        batch.drop_column("plugin")
        batch.alter_column("tenant_id", existing_type=sa.Text, nullable=False)
    op.drop_index("ix_plugin_state_expires_at", table_name="plugin_state")
    op.drop_table("plugin_state")
