"""Recipient domains' MTA-STS policies in the SQL metadata store: one row per domain."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from mairust.model.mta_sts import StsPolicyRecord
from mairust.storage.sql_engine import SqlDatabase
from mairust.storage.sql_schema import mta_sts_policies

_P = mta_sts_policies.c


class SqlMtaStsPolicies:
    """The MTA-STS part of :class:`~mairust.storage.sql_metadata.SqlMetadataStore`."""

    _db: SqlDatabase

    def get_sts_policy(self, domain: str) -> StsPolicyRecord | None:
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(mta_sts_policies).where(_P.domain == domain.lower())
            ).first()
        if row is None:
            return None
        return StsPolicyRecord(row.domain, row.policy_id, row.text, row.fetched_at, row.expires_at)

    def put_sts_policy(self, record: StsPolicyRecord) -> None:
        values = {
            "policy_id": record.policy_id,
            "text": record.text,
            "fetched_at": record.fetched_at,
            "expires_at": record.expires_at,
        }
        domain = record.domain.lower()
        # Delete then insert in one transaction: portable across SQLite and PostgreSQL,
        # and two loops storing the same domain at once leave one row either way.
        with self._db.write() as conn:
            conn.execute(mta_sts_policies.delete().where(_P.domain == domain))
            conn.execute(mta_sts_policies.insert().values(domain=domain, **values))

    def delete_expired_sts_policies(self, before: datetime) -> int:
        with self._db.write() as conn:
            result = conn.execute(mta_sts_policies.delete().where(_P.expires_at < before))
        return result.rowcount
