"""DMARC aggregate reports received for the tenants' domains.

Revision ID: 0028
Revises: 0027
Create Date: 2026-11-30

``dmarc_reports`` keeps each aggregate report (RFC 7489 §7.2) a receiver mailed to a
domain's ``rua`` address, once per (domain, reporting org, report id); messages get an
index on ``received_at`` for the reports we send (a period's auth results), and
``dmarc_report_periods`` the periods whose reports went out (at most once each).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "dmarc_reports",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("domain", sa.Text, nullable=False),
        sa.Column("org_name", sa.Text, nullable=False),
        sa.Column("report_id", sa.Text, nullable=False),
        sa.Column("begin_at", _TIME, nullable=False),
        sa.Column("end_at", _TIME, nullable=False),
        sa.Column("messages", sa.BigInteger, nullable=False),
        sa.Column("passed", sa.BigInteger, nullable=False),
        sa.Column("failed", sa.BigInteger, nullable=False),
        sa.Column("report", sa.Text, nullable=False),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("received_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dmarc_reports"),
        sa.UniqueConstraint(
            "domain", "org_name", "report_id", name="uq_dmarc_reports_domain_org_name_report_id"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_dmarc_reports_tenant_id_tenants"
        ),
        sa.ForeignKeyConstraint(
            ["domain"], ["domains.name"], name="fk_dmarc_reports_domain_domains"
        ),
    )
    op.create_index("ix_dmarc_reports_domain_id", "dmarc_reports", ["domain", "id"])
    op.create_table(
        "dmarc_report_periods",
        sa.Column("period_end", _TIME, nullable=False),
        sa.Column("claimed_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("period_end", name="pk_dmarc_report_periods"),
    )
    # The aggregate reports we send read one period's messages at a time.
    op.create_index("ix_messages_received_at", "messages", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_messages_received_at", table_name="messages")
    op.drop_table("dmarc_report_periods")
    op.drop_index("ix_dmarc_reports_domain_id", table_name="dmarc_reports")
    op.drop_table("dmarc_reports")
