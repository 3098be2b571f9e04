"""Asynchronous hook jobs (post_receive), durable in the metadata store.

Revision ID: 0017
Revises: 0020
Create Date: 2026-11-30

``hook_jobs`` keeps one row per (message, plugin, point): unique, so that a pipeline row
run twice makes no second job. Due rows are leased by (state, next_attempt_at) like the
queue; a job whose plugin answers later waits (state ``waiting``) until ``callback_until``.
``result`` is the verdict's effect as recorded (and, for an enforce binding, applied).
No foreign key to ``messages``: a purge may remove a message whose jobs are still kept
(a job whose message is gone fails when it is leased).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
# After 0020 (merged first, though numbered later): one line of revisions.
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "expand"

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "hook_jobs",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("binding_id", sa.Text, nullable=False),
        sa.Column("plugin", sa.Text, nullable=False),
        sa.Column("point", sa.Text, nullable=False),
        sa.Column("mode", sa.Text, nullable=False),
        sa.Column("tenant_id", sa.Text, nullable=True),
        sa.Column("domain", sa.Text, nullable=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", _TIME, nullable=False),
        sa.Column("lease_owner", sa.Text, nullable=True),
        sa.Column("lease_until", _TIME, nullable=True),
        sa.Column("callback_until", _TIME, nullable=True),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.Column("finished_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_hook_jobs"),
        sa.UniqueConstraint(
            "message_id", "plugin", "point", name="uq_hook_jobs_message_id_plugin_point"
        ),
    )
    op.create_index("ix_hook_jobs_state_next_attempt_at", "hook_jobs", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_hook_jobs_state_next_attempt_at", table_name="hook_jobs")
    op.drop_table("hook_jobs")
