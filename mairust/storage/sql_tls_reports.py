"""TLS-RPT counts and the reports sent from them, in the SQL metadata store
(``tls_report_counts``, ``tls_reports_sent``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from mairust.model.tls_reports import SentTlsReport, TlsResultCount, TlsResultKey
from mairust.storage.sql_engine import SqlDatabase
from mairust.storage.sql_entries import UPSERT_INSERTS
from mairust.storage.sql_schema import tls_report_counts, tls_reports_sent

_C = tls_report_counts.c
_S = tls_reports_sent.c


class SqlTlsReports:
    """The TLS-RPT part of :class:`~mairust.storage.sql_metadata.SqlMetadataStore`."""

    _db: SqlDatabase

    def add_tls_results(self, counts: Sequence[TlsResultCount]) -> None:
        if not counts:
            return
        rows = [_row(c) for c in counts]
        insert = UPSERT_INSERTS[self._db.dialect](tls_report_counts)
        upsert = insert.on_conflict_do_update(
            index_elements=["day", "row_key"], set_={"count": _C.count + insert.excluded.count}
        )
        # One statement, executed for the whole batch in one transaction (one flush);
        # the keys of a batch are distinct, so no row is hit twice.
        with self._db.write() as conn:
            conn.execute(upsert, rows)

    def tls_results(self, day: date) -> list[TlsResultCount]:
        query = sa.select(tls_report_counts).where(_C.day == day).order_by(_C.row_key)
        with self._db.read() as conn:
            return [_count(row) for row in conn.execute(query).all()]

    def claim_tls_report(self, report: SentTlsReport) -> bool:
        insert = (
            UPSERT_INSERTS[self._db.dialect](tls_reports_sent)
            .values(
                day=report.day,
                policy_domain=report.policy_domain,
                report_id=report.report_id,
                destinations=json.dumps(list(report.destinations)),
                claimed_at=report.claimed_at,
            )
            .on_conflict_do_nothing(index_elements=["day", "policy_domain"])
            .returning(_S.day)
        )
        with self._db.write() as conn:
            return conn.execute(insert).first() is not None

    def sent_tls_reports(self, day: date) -> list[SentTlsReport]:
        query = sa.select(tls_reports_sent).where(_S.day == day).order_by(_S.policy_domain)
        with self._db.read() as conn:
            return [
                SentTlsReport(
                    row.day,
                    row.policy_domain,
                    row.report_id,
                    tuple(json.loads(row.destinations)),
                    row.claimed_at,
                )
                for row in conn.execute(query).all()
            ]

    def delete_tls_results_before(self, day: date) -> int:
        with self._db.write() as conn:
            counts = conn.execute(tls_report_counts.delete().where(_C.day < day)).rowcount
            conn.execute(tls_reports_sent.delete().where(_S.day < day))
        return counts


def row_key(key: TlsResultKey) -> str:
    """A digest of everything but the day: the row a count adds to."""
    parts = [
        key.policy_domain,
        key.policy_type,
        "\n".join(key.policy_string),
        " ".join(key.mx_hosts),
        key.result_type,
        key.sending_ip,
        key.receiving_mx,
        key.receiving_ip,
    ]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _row(count: TlsResultCount) -> dict[str, Any]:
    key = count.key
    return {
        "day": key.day,
        "row_key": row_key(key),
        "policy_domain": key.policy_domain,
        "policy_type": key.policy_type,
        "policy_string": "\n".join(key.policy_string),
        "mx_hosts": " ".join(key.mx_hosts),
        "result_type": key.result_type,
        "sending_ip": key.sending_ip,
        "receiving_mx": key.receiving_mx,
        "receiving_ip": key.receiving_ip,
        "count": count.count,
    }


def _count(row: Row[Any]) -> TlsResultCount:
    key = TlsResultKey(
        day=row.day,
        policy_domain=row.policy_domain,
        policy_type=row.policy_type,
        policy_string=tuple(row.policy_string.split("\n")) if row.policy_string else (),
        mx_hosts=tuple(row.mx_hosts.split()),
        result_type=row.result_type,
        sending_ip=row.sending_ip,
        receiving_mx=row.receiving_mx,
        receiving_ip=row.receiving_ip,
    )
    return TlsResultCount(key, int(row._mapping["count"]))  # Row.count is a tuple method
