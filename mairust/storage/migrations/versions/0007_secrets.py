"""The secret store: tenants' secrets, sealed (encrypted and bound to their row).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29

Webhook signing secrets first, DKIM keys and plugin secrets later. The value never
reaches this table in clear: ``mairust.secrets`` seals it with AES-256-GCM under a key
from the configuration, and ``key_id`` says which key, so a key rotation can find the
rows still sealed under an old one.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"


def upgrade() -> None:
    op.create_table(
        "secrets",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("key_id", sa.Text, nullable=False),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_secrets"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_secrets_tenant_id_tenants"),
    )
    op.create_index("ix_secrets_tenant_id_created_at", "secrets", ["tenant_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_secrets_tenant_id_created_at", table_name="secrets")
    op.drop_table("secrets")
