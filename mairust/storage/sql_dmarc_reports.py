"""DMARC aggregate reports in the SQL metadata store: received reports (``dmarc_reports``)
and the auth results the reports we send are built from: the received messages', and
those the Rejection events of DMARC refusals at DATA kept (``detail.auth_results``)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from mairust.events import RecordType
from mairust.model.dmarc_reports import (
    AggregateReport,
    AuthDomainResult,
    InboundAuth,
    PolicyPublished,
    ReportMetadata,
    ReportRow,
    StoredReport,
)
from mairust.storage.sql_engine import SqlDatabase
from mairust.storage.sql_entries import UPSERT_INSERTS
from mairust.storage.sql_schema import dmarc_report_periods, dmarc_reports, events, messages

_R = dmarc_reports.c
_M = messages.c
_E = events.c


class SqlDmarcReports:
    """The DMARC part of :class:`~mairust.storage.sql_metadata.SqlMetadataStore`."""

    _db: SqlDatabase

    def add_dmarc_report(self, report: StoredReport) -> bool:
        aggregate = report.report
        row = {
            "id": report.id,
            "tenant_id": report.tenant_id,
            "domain": report.domain,
            "org_name": aggregate.metadata.org_name,
            "report_id": aggregate.metadata.report_id,
            "begin_at": aggregate.metadata.begin,
            "end_at": aggregate.metadata.end,
            "messages": aggregate.messages,
            "passed": aggregate.passed,
            "failed": aggregate.failed,
            "report": report_to_json(aggregate),
            "message_id": report.message_id,
            "received_at": report.received_at,
        }
        insert = (
            UPSERT_INSERTS[self._db.dialect](dmarc_reports)
            .values(row)
            .on_conflict_do_nothing(index_elements=["domain", "org_name", "report_id"])
            .returning(_R.id)
        )
        with self._db.write() as conn:
            return conn.execute(insert).first() is not None

    def list_dmarc_reports(
        self, domain: str, limit: int = 100, after: str | None = None
    ) -> list[StoredReport]:
        query = sa.select(dmarc_reports).where(_R.domain == domain)
        if after is not None:
            query = query.where(_R.id < after)
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(_R.id.desc()).limit(limit)).all()
        return [_stored(row) for row in rows]

    def inbound_auth_results(
        self, begin: datetime, end: datetime, limit: int = 1000, after: str | None = None
    ) -> list[InboundAuth]:
        query = sa.select(
            _M.id, _M.received_at, _M.client_ip, _M.auth_results, _M.annotations
        ).where(
            _M.received_at >= begin,
            _M.received_at < end,
            _M.authenticated_as.is_(None),
            _M.auth_results.is_not(None),
        )
        if after is not None:
            query = query.where(_M.id > after)
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(_M.id).limit(limit)).all()
            refused = _refused_auth(conn, begin, end, limit, after)
        stored = [
            InboundAuth(
                message_id=row.id,
                received_at=row.received_at,
                client_ip=row.client_ip,
                auth_results=row.auth_results,
                folder=str((row.annotations or {}).get("folder") or ""),
            )
            for row in rows
        ]
        # Two id-ordered sources, one page: their first ``limit`` ids together (a stored
        # message wins over a refusal under the same transaction id).
        merged = {item.message_id: item for item in refused}
        merged.update({item.message_id: item for item in stored})
        return [merged[key] for key in sorted(merged)][:limit]

    def claim_dmarc_period(self, period_end: datetime, claimed_at: datetime) -> bool:
        insert = (
            UPSERT_INSERTS[self._db.dialect](dmarc_report_periods)
            .values(period_end=period_end, claimed_at=claimed_at)
            .on_conflict_do_nothing(index_elements=["period_end"])
            .returning(dmarc_report_periods.c.period_end)
        )
        with self._db.write() as conn:
            return conn.execute(insert).first() is not None


def _refused_auth(
    conn: sa.Connection, begin: datetime, end: datetime, limit: int, after: str | None
) -> list[InboundAuth]:
    """Up to ``limit`` transactions refused in [begin, end) whose Rejection events kept
    auth results, by transaction id; a transaction's several events (one per recipient
    tenant) count once."""
    found: dict[str, InboundAuth] = {}
    last = after
    while len(found) < limit:
        query = sa.select(_E.message_id, _E.at, _E.detail).where(
            # A literal, not a parameter: it is what lets SQLite use the partial index.
            sa.text(f"events.type = '{RecordType.REJECTION.value}'"),
            _E.at >= begin,
            _E.at < end,
            _E.message_id.is_not(None),
        )
        if last is not None:
            query = query.where(_E.message_id > last)
        rows = conn.execute(query.order_by(_E.message_id).limit(limit)).all()
        for row in rows:
            detail = row.detail or {}
            results = detail.get("auth_results")
            if isinstance(results, dict) and row.message_id not in found:
                found[row.message_id] = InboundAuth(
                    message_id=row.message_id,
                    received_at=row.at,
                    client_ip=str(detail.get("client") or ""),
                    auth_results=results,
                    refused=True,
                )
        if len(rows) < limit:
            break
        last = rows[-1].message_id
    return [found[key] for key in sorted(found)][:limit]


def report_to_json(report: AggregateReport) -> dict[str, Any]:
    data = asdict(report)
    data["metadata"]["begin"] = report.metadata.begin.isoformat()
    data["metadata"]["end"] = report.metadata.end.isoformat()
    return data


def report_from_json(data: dict[str, Any]) -> AggregateReport:
    meta = dict(data["metadata"])
    meta["begin"] = datetime.fromisoformat(meta["begin"])
    meta["end"] = datetime.fromisoformat(meta["end"])
    meta["errors"] = tuple(meta.get("errors", ()))
    rows = []
    for row in data["rows"]:
        fields = dict(row)
        fields["dkim_results"] = tuple(AuthDomainResult(**r) for r in row["dkim_results"])
        fields["spf_results"] = tuple(AuthDomainResult(**r) for r in row["spf_results"])
        fields["reasons"] = tuple(row.get("reasons", ()))
        rows.append(ReportRow(**fields))
    return AggregateReport(
        metadata=ReportMetadata(**meta),
        policy=PolicyPublished(**data["policy"]),
        rows=tuple(rows),
    )


def _stored(row: Row[Any]) -> StoredReport:
    return StoredReport(
        id=row.id,
        tenant_id=row.tenant_id,
        domain=row.domain,
        report=report_from_json(row.report),
        received_at=row.received_at,
        message_id=row.message_id,
    )
