"""Asynchronous hook jobs in the SQL metadata store.

Jobs work like the webhook outbox (``sql_webhooks``): due rows are leased inside one write
transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), an expired lease puts a row back in
play, and only the lease's owner settles a row. ``add_hook_jobs`` is the pipeline's one
call per batch: it reads the active bindings and the jobs made already, and inserts a job
per (message, plugin, point) whose filters match, ``ON CONFLICT DO NOTHING``, so a row run
twice makes no second job (and a batch with nothing to add writes nothing). Finishing a
job and applying its effect to the message's entries is one transaction guarded by the
job's state: the effect is applied once, and applying it again (to a copy delivered after
the job finished) only adds what is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mairust.model.hook_jobs import HookJob, HookJobState, JobEffect, JobTarget
from mairust.model.ids import new_id
from mairust.model.message import Envelope
from mairust.storage.sql_engine import SqlDatabase
from mairust.storage.sql_entries import UPSERT_INSERTS
from mairust.storage.sql_leases import release_leases_update
from mairust.storage.sql_schema import (
    entries,
    hook_bindings,
    hook_jobs,
    mailboxes,
    messages,
    plugins,
    search_backlog,
)

_J = hook_jobs.c
_ENFORCE = "enforce"
_CHUNK = 500  # rows per insert: far below every dialect's bound-parameter limit


class SqlHookJobs:
    """The hook-job part of :class:`~mairust.storage.sql_metadata.SqlMetadataStore`."""

    _db: SqlDatabase

    def add_hook_jobs(self, point: str, targets: Sequence[JobTarget]) -> int:
        if not targets:
            return 0
        tenants_of: dict[str, set[str]] = {}
        domains_of: dict[str, set[str]] = {}
        for target in targets:
            tenants_of.setdefault(target.message_id, set()).add(target.tenant_id)
            domains_of.setdefault(target.message_id, set()).add(target.domain.lower())
        # Read first: a batch with nothing to add or apply (no bindings at the point, the
        # jobs made already) costs no write transaction.
        with self._db.read() as conn:
            bound = conn.execute(
                sa.select(hook_bindings)
                .join(plugins, plugins.c.name == hook_bindings.c.plugin)
                .where(hook_bindings.c.point == point, hook_bindings.c.enabled, plugins.c.enabled)
                .order_by(hook_bindings.c.priority, hook_bindings.c.created_at, hook_bindings.c.id)
            ).all()
            made = conn.execute(
                hook_jobs.select().where(_J.message_id.in_(list(tenants_of)), _J.point == point)
            ).all()
        existing = {(row.message_id, row.plugin) for row in made}
        # A copy delivered after its message's job finished gets the effect too.
        finished = [
            row
            for row in made
            if row.state == HookJobState.DONE.value
            and row.mode == _ENFORCE
            and row.result is not None
        ]
        now = datetime.now(UTC)
        rows = [
            {
                "id": new_id(),
                "message_id": message_id,
                "binding_id": binding.id,
                "plugin": binding.plugin,
                "point": point,
                "mode": binding.mode,
                "tenant_id": binding.tenant_id,
                "domain": binding.domain,
                "state": HookJobState.PENDING.value,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for message_id, tenants in tenants_of.items()
            for binding in bound
            if (message_id, binding.plugin) not in existing
            and (binding.tenant_id is None or binding.tenant_id in tenants)
            and (binding.domain is None or binding.domain in domains_of[message_id])
        ]
        if not rows and not finished:
            return 0
        added = 0
        with self._db.write() as conn:
            # ON CONFLICT: another run of the same rows may have made them since the read.
            # What was inserted is what RETURNING names (a rowcount is -1 on PostgreSQL).
            for start in range(0, len(rows), _CHUNK):
                insert = (
                    UPSERT_INSERTS[self._db.dialect](hook_jobs)
                    .values(rows[start : start + _CHUNK])
                    .on_conflict_do_nothing(index_elements=["message_id", "plugin", "point"])
                    .returning(_J.id)
                )
                added += len(conn.execute(insert).all())
            for row in finished:
                _apply(
                    conn,
                    self._db.dialect,
                    row.message_id,
                    row.tenant_id,
                    row.domain,
                    JobEffect.from_json(row.result),
                )
        return added

    def lease_hook_jobs(self, owner: str, limit: int, lease_seconds: float) -> list[HookJob]:
        if limit <= 0:
            return []
        now = datetime.now(UTC)
        with self._db.write() as conn:
            ids = _due_ids(conn, now, limit)
            if not ids:
                return []
            conn.execute(
                hook_jobs.update()
                .where(_J.id.in_(ids))
                .values(
                    state=HookJobState.LEASED.value,
                    lease_owner=owner,
                    lease_until=now + timedelta(seconds=lease_seconds),
                    attempts=_J.attempts + 1,
                    updated_at=now,
                )
            )
            rows = conn.execute(_jobs().where(_J.id.in_(ids))).all()
        order = {job_id: index for index, job_id in enumerate(ids)}
        return sorted((_job(row) for row in rows), key=lambda job: order[job.id])

    def defer_hook_job(self, job_id: str, owner: str, error: str, retry_at: datetime) -> bool:
        return self._settle_job(
            job_id,
            owner,
            state=HookJobState.PENDING.value,
            next_attempt_at=retry_at,
            last_error=error,
        )

    def fail_hook_job(self, job_id: str, owner: str | None, error: str) -> bool:
        return self._settle_job(
            job_id,
            owner,
            state=HookJobState.FAILED.value,
            last_error=error,
            finished_at=datetime.now(UTC),
        )

    def await_hook_callback(self, job_id: str, owner: str, until: datetime) -> bool:
        return self._settle_job(
            job_id, owner, state=HookJobState.WAITING.value, callback_until=until
        )

    def finish_hook_job(self, job_id: str, owner: str | None, effect: JobEffect) -> bool:
        now = datetime.now(UTC)
        with self._db.write() as conn:
            done = conn.execute(
                hook_jobs.update()
                .where(_J.id == job_id, _held(owner))
                .values(
                    state=HookJobState.DONE.value,
                    result=effect.to_json(),
                    lease_owner=None,
                    lease_until=None,
                    last_error=None,
                    finished_at=now,
                    updated_at=now,
                )
            ).rowcount
            if done != 1:
                return False
            row = conn.execute(hook_jobs.select().where(_J.id == job_id)).one()
            if row.mode == _ENFORCE:
                _apply(conn, self._db.dialect, row.message_id, row.tenant_id, row.domain, effect)
        return True

    def expire_hook_callbacks(self, now: datetime) -> list[HookJob]:
        with self._db.write() as conn:
            ids = list(
                conn.execute(
                    sa.select(_J.id)
                    .where(_J.state == HookJobState.WAITING.value, _J.callback_until <= now)
                    .with_for_update(skip_locked=True)
                ).scalars()
            )
            if not ids:
                return []
            conn.execute(
                hook_jobs.update()
                .where(_J.id.in_(ids), _J.state == HookJobState.WAITING.value)
                .values(
                    state=HookJobState.FAILED.value,
                    last_error="no callback before the token expired",
                    finished_at=now,
                    updated_at=now,
                )
            )
            return [_job(row) for row in conn.execute(_jobs().where(_J.id.in_(ids))).all()]

    def release_hook_job_leases(self, owner_prefix: str, keep_owner: str | None = None) -> int:
        update = release_leases_update(
            hook_jobs,
            HookJobState.LEASED.value,
            HookJobState.PENDING.value,
            owner_prefix,
            keep_owner,
        )
        with self._db.write() as conn:
            return conn.execute(update).rowcount

    def get_hook_job(self, job_id: str) -> HookJob | None:
        with self._db.read() as conn:
            row = conn.execute(_jobs().where(_J.id == job_id)).first()
        return None if row is None else _job(row)

    def list_hook_jobs(self, message_id: str | None = None, limit: int = 100) -> list[HookJob]:
        query = _jobs().order_by(_J.created_at, _J.id).limit(limit)
        if message_id is not None:
            query = query.where(_J.message_id == message_id)
        with self._db.read() as conn:
            return [_job(row) for row in conn.execute(query).all()]

    def _settle_job(self, job_id: str, owner: str | None, **values: Any) -> bool:
        with self._db.write() as conn:
            result = conn.execute(
                hook_jobs.update()
                .where(_J.id == job_id, _held(owner))
                .values(lease_owner=None, lease_until=None, updated_at=datetime.now(UTC), **values)
            )
        return bool(result.rowcount)


def _held(owner: str | None) -> sa.ColumnElement[bool]:
    """A job the caller may settle: leased by ``owner``, or (no owner: the callback API)
    waiting for its callback."""
    if owner is None:
        return _J.state == HookJobState.WAITING.value
    return sa.and_(_J.state == HookJobState.LEASED.value, _J.lease_owner == owner)


def _apply(
    conn: Connection,
    dialect: str,
    message_id: str,
    tenant_id: str | None,
    domain: str | None,
    effect: JobEffect,
) -> None:
    """``effect`` on the message's entries that the binding's filters match: tags added
    (each once), the folder set; what is in place already is left as it is. The entries
    changed go to the search backlog in the same transaction."""
    if not effect.tags and effect.folder is None:
        return
    query = sa.select(entries.c.id, entries.c.tags, entries.c.folder).where(
        entries.c.message_id == message_id
    )
    if tenant_id is not None:
        query = query.where(entries.c.tenant_id == tenant_id)
    if domain is not None:
        suffix = f"@{domain.lower()}"
        length = sa.func.length(mailboxes.c.address)
        in_domain = sa.select(mailboxes.c.id).where(
            length > len(suffix),
            sa.func.substr(mailboxes.c.address, length - len(suffix) + 1) == suffix,
        )
        query = query.where(entries.c.mailbox_id.in_(in_domain))
    now = datetime.now(UTC)
    changed: list[str] = []
    for row in conn.execute(query).all():
        changes: dict[str, Any] = {}
        tags = tuple(dict.fromkeys((*row.tags, *effect.tags)))
        if tags != tuple(row.tags):
            changes["tags"] = tags
        if effect.folder is not None and effect.folder != row.folder:
            changes["folder"] = effect.folder
            changes["moved_at"] = now
        if changes:
            conn.execute(entries.update().where(entries.c.id == row.id).values(**changes))
            changed.append(row.id)
    if changed:
        # Search learns the new tags and folder from the indexer's backlog, made durable
        # with the change itself.
        insert = UPSERT_INSERTS[dialect](search_backlog).on_conflict_do_nothing(
            index_elements=["entry_id"]
        )
        conn.execute(insert, [{"entry_id": entry_id, "added_at": now} for entry_id in changed])


def _due_ids(conn: Connection, now: datetime, limit: int) -> list[str]:
    """Ids to lease: expired leases first (a loop that died), then due rows."""
    expired = (
        sa.select(_J.id)
        .where(_J.state == HookJobState.LEASED.value, _J.lease_until <= now)
        .order_by(_J.lease_until)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(conn.execute(expired).scalars())
    if len(ids) < limit:
        due = (
            sa.select(_J.id)
            .where(_J.state == HookJobState.PENDING.value, _J.next_attempt_at <= now)
            .order_by(_J.next_attempt_at, _J.id)
            .limit(limit - len(ids))
            .with_for_update(skip_locked=True)
        )
        ids.extend(conn.execute(due).scalars())
    return ids


def _jobs() -> sa.Select[Any]:
    m = messages.c
    return sa.select(
        hook_jobs,
        m.blob_key,
        m.mail_from,
        m.rcpt_tos,
        m.helo,
        m.client_ip,
        m.authenticated_as,
        m.received_at,
    ).outerjoin(messages, m.id == _J.message_id)


def _job(row: sa.Row[Any]) -> HookJob:
    envelope = None
    if row.blob_key is not None:
        envelope = Envelope(
            mail_from=row.mail_from,
            rcpt_tos=tuple(row.rcpt_tos),
            received_at=row.received_at,
            helo=row.helo,
            client_ip=row.client_ip,
            authenticated_as=row.authenticated_as,
        )
    return HookJob(
        id=row.id,
        message_id=row.message_id,
        binding_id=row.binding_id,
        plugin=row.plugin,
        point=row.point,
        mode=row.mode,
        tenant_id=row.tenant_id,
        domain=row.domain,
        state=HookJobState(row.state),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
        lease_owner=row.lease_owner,
        lease_until=row.lease_until,
        callback_until=row.callback_until,
        result=row.result,
        last_error=row.last_error,
        finished_at=row.finished_at,
        blob_key=row.blob_key or "",
        envelope=envelope,
    )
