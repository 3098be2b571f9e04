"""Regions: a tenant's home region.

Revision ID: 0031
Revises: 0030
Create Date: 2026-11-30

``tenants.home_region`` names the region (mairust.regions) whose stores hold the tenant's
mail; NULL is the region that reads the row. Every region has a row for every tenant (made
through the API or CLI with the home region given), so each can route a tenant's mail and
API calls to its home.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"


def upgrade() -> None:
    op.add_column("tenants", sa.Column("home_region", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("home_region")
