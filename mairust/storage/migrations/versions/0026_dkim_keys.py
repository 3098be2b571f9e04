"""Sending domains' DKIM keys, several per domain, for outbound signing and rotation.

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-30

``dkim_keys`` replaces ``domain_dkim_keys`` (one RSA key per domain, made for the DNS
helper): a domain has at most one *active* key per algorithm (rsa2048, ed25519) and any
number of *retired* ones, kept published for a grace period after a rotation. The private
halves stay in ``secrets`` (``secret_id``). Existing keys move over as active rsa2048 keys
of the domain's tenant.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mairust.model.ids import new_id

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "contract"
reason = (
    "written before the rule: it moved the DKIM keys from domain_dkim_keys to dkim_keys and "
    "dropped domain_dkim_keys in the same step, so the code of 0025, which reads and writes "
    "domain_dkim_keys, cannot sign or manage keys on this schema"
)
oldest_code = "0026"  # a barrier: no older code runs on it

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "dkim_keys",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("domain", sa.Text, nullable=False),
        sa.Column("selector", sa.Text, nullable=False),
        sa.Column("algorithm", sa.Text, nullable=False),
        sa.Column("public_key", sa.Text, nullable=False),
        sa.Column("secret_id", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("retired_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dkim_keys"),
        sa.UniqueConstraint("domain", "selector", name="uq_dkim_keys_domain_selector"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_dkim_keys_tenant_id_tenants"
        ),
        sa.ForeignKeyConstraint(["domain"], ["domains.name"], name="fk_dkim_keys_domain_domains"),
    )
    op.create_index(
        "ux_dkim_keys_active_algorithm",
        "dkim_keys",
        ["domain", "algorithm"],
        unique=True,
        sqlite_where=sa.text("state = 'active'"),
        postgresql_where=sa.text("state = 'active'"),
    )
    conn = op.get_bind()
    # Row by row in SQL, so created_at is copied as stored (each row needs a new id).
    for (domain,) in conn.execute(sa.text("SELECT domain FROM domain_dkim_keys")).all():
        conn.execute(
            sa.text(
                "INSERT INTO dkim_keys (id, tenant_id, domain, selector, algorithm, public_key,"
                " secret_id, state, created_at)"
                " SELECT :id, d.tenant_id, k.domain, k.selector, 'rsa2048', k.public_key,"
                " k.secret_id, 'active', k.created_at"
                " FROM domain_dkim_keys k JOIN domains d ON d.name = k.domain"
                " WHERE k.domain = :domain"
            ),
            {"id": new_id(), "domain": domain},
        )
    op.drop_table("domain_dkim_keys")


def downgrade() -> None:
    op.create_table(
        "domain_dkim_keys",
        sa.Column("domain", sa.Text, nullable=False),
        sa.Column("selector", sa.Text, nullable=False),
        sa.Column("public_key", sa.Text, nullable=False),
        sa.Column("secret_id", sa.Text, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("domain", name="pk_domain_dkim_keys"),
        sa.ForeignKeyConstraint(
            ["domain"], ["domains.name"], name="fk_domain_dkim_keys_domain_domains"
        ),
    )
    # Each domain's oldest active RSA key goes back; the rest (ed25519, retired) cannot.
    op.execute(
        "INSERT INTO domain_dkim_keys (domain, selector, public_key, secret_id, created_at)"
        " SELECT domain, selector, public_key, secret_id, created_at FROM dkim_keys"
        " WHERE state = 'active' AND algorithm = 'rsa2048'"
    )
    op.drop_index("ux_dkim_keys_active_algorithm", table_name="dkim_keys")
    op.drop_table("dkim_keys")
