"""TLS-RPT (RFC 8460) counts per UTC day, and the reports sent from them.

Revision ID: 0029
Revises: 0030
Create Date: 2026-11-30

``tls_report_counts`` adds up, per day, the outbound TLS sessions and failures by policy
domain, policy and result (every delivery loop of the cluster adds to the same rows);
``tls_reports_sent`` holds each (day, policy domain) whose report went out, at most once.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"


def upgrade() -> None:
    op.create_table(
        "tls_report_counts",
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("row_key", sa.Text, nullable=False),
        sa.Column("policy_domain", sa.Text, nullable=False),
        sa.Column("policy_type", sa.Text, nullable=False),
        sa.Column("policy_string", sa.Text, nullable=False),
        sa.Column("mx_hosts", sa.Text, nullable=False),
        sa.Column("result_type", sa.Text, nullable=False),
        sa.Column("sending_ip", sa.Text, nullable=False),
        sa.Column("receiving_mx", sa.Text, nullable=False),
        sa.Column("receiving_ip", sa.Text, nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("day", "row_key", name="pk_tls_report_counts"),
    )
    op.create_table(
        "tls_reports_sent",
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("policy_domain", sa.Text, nullable=False),
        sa.Column("report_id", sa.Text, nullable=False),
        sa.Column("destinations", sa.Text, nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", "policy_domain", name="pk_tls_reports_sent"),
    )


def downgrade() -> None:
    op.drop_table("tls_reports_sent")
    op.drop_table("tls_report_counts")
