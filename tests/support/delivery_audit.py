"""Holds what a `mairust up` stored against what its senders saw (tests.support.mail_load).

Reads the stores themselves (the metadata tables and the search index the server's config
names), not the API, so nothing a listing or a search page filters out can hide a
duplicate or a half-written message.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from mairust.config import Settings, load_settings
from mairust.model.scope import PLATFORM
from mairust.storage.factory import open_stores
from mairust.storage.sql_engine import create_sql_engine
from mairust.storage.sql_schema import entries, mailboxes, messages, metadata, queue
from tests.support.mail_load import Attempt


def server_settings(data_dir: Path, config: Path | None) -> Settings:
    return load_settings(config, data_dir=data_dir)


def queue_counts(settings: Settings) -> Counter[str]:
    """Queue rows per state (queued, leased, done, failed), read from the store."""
    engine = create_sql_engine(settings.storage.metadata)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(queue.c.state, sa.func.count()).group_by(queue.c.state)
            ).all()
    finally:
        engine.dispose()
    return Counter({state: count for state, count in rows})


def held_leases(settings: Settings) -> dict[str, int]:
    """Rows that still carry a lease, per table, in every table that has lease columns
    (the queue, the webhook outbox, the hook jobs, the outbound recipients, and any leased
    table added later): read from the store, so no report's filter can hide one."""
    leased_tables = [table for table in metadata.sorted_tables if "lease_owner" in table.c]
    assert leased_tables, "the schema has no leased table: this check would see nothing"
    held: dict[str, int] = {}
    engine = create_sql_engine(settings.storage.metadata)
    try:
        with engine.connect() as conn:
            for table in leased_tables:
                count = conn.execute(
                    sa.select(sa.func.count())
                    .select_from(table)
                    .where(
                        sa.or_(table.c.lease_owner.is_not(None), table.c.lease_until.is_not(None))
                    )
                ).scalar_one()
                held[table.name] = int(count)
    finally:
        engine.dispose()
    return held


@dataclass
class Stored:
    """What the stores hold for each token of one load run."""

    message_ids: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    # token -> [(mailbox address, message id, entry id)]
    entries: dict[str, list[tuple[str, str, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    @classmethod
    def read(cls, settings: Settings, prefix: str) -> Stored:
        stored = cls()
        engine = create_sql_engine(settings.storage.metadata)
        try:
            with engine.connect() as conn:
                for message_id, mail_from in conn.execute(
                    sa.select(messages.c.id, messages.c.mail_from)
                ):
                    token = mail_from.partition("@")[0]
                    if token.startswith(prefix):
                        stored.message_ids[token].append(message_id)
                query = sa.select(
                    mailboxes.c.address, entries.c.message_id, entries.c.id, entries.c.subject
                ).join(mailboxes, mailboxes.c.id == entries.c.mailbox_id)
                for address, message_id, entry_id, subject in conn.execute(query):
                    token = subject.split()[-1] if subject.split() else ""
                    if token.startswith(prefix):
                        stored.entries[token].append((address, message_id, entry_id))
        finally:
            engine.dispose()
        return stored


def audit(attempts: Sequence[Attempt], settings: Settings, prefix: str) -> list[str]:
    """Every broken promise, one line each; an empty list when all were kept.

    Run it once every queue row is done.
    """
    stored = Stored.read(settings, prefix)
    problems: list[str] = []
    sent = {a.token for a in attempts}
    for token in (set(stored.message_ids) | set(stored.entries)) - sent:
        problems.append(f"{token}: stored, but no sender sent it")
    for attempt in attempts:
        rows = stored.message_ids.get(attempt.token, [])
        held = Counter(address for address, _, _ in stored.entries.get(attempt.token, []))
        per_rcpt = [held[rcpt] for rcpt in attempt.recipients]
        what = f"{attempt.token} ({attempt.phase}, {attempt.code} {attempt.reply[:40]!r})"
        if attempt.acknowledged:
            if rows != [attempt.message_id]:
                problems.append(f"{what}: got 250 as {attempt.message_id}, message rows {rows}")
            if per_rcpt != [1] * len(attempt.recipients):
                problems.append(f"{what}: got 250, mailbox entries per recipient {per_rcpt}")
            ids = {m for _, m, _ in stored.entries.get(attempt.token, [])}
            if ids - {attempt.message_id}:
                problems.append(f"{what}: entries of another message id: {ids}")
        elif attempt.unsent:
            if rows or sum(per_rcpt):
                problems.append(f"{what}: never sent in full, yet stored: {rows} {per_rcpt}")
        elif len(rows) > 1 or per_rcpt != [len(rows)] * len(attempt.recipients):
            # No 250 seen: stored for every recipient once, or not at all.
            problems.append(f"{what}: message rows {rows}, entries per recipient {per_rcpt}")
    return problems


def search_problems(settings: Settings, stored_tokens: dict[str, set[str]]) -> list[str]:
    """For each token, the search index must find exactly the entries holding it, once."""
    problems: list[str] = []
    stores = open_stores(settings.storage)
    try:
        for token, entry_ids in sorted(stored_tokens.items()):
            hits = stores.search.search(PLATFORM, token, limit=50)
            found = [hit.entry_id for hit in hits]
            if sorted(found) != sorted(entry_ids):
                problems.append(
                    f"{token}: search finds {sorted(found)}, stored {sorted(entry_ids)}"
                )
    finally:
        stores.close()
    return problems


def outcome_counts(attempts: Sequence[Attempt], settings: Settings, prefix: str) -> Counter[str]:
    """How the senders' messages ended, the uncertain ones split by whether they were
    stored (their 250 was lost after the commit) or not."""
    stored = Stored.read(settings, prefix)
    counts: Counter[str] = Counter()
    for attempt in attempts:
        if attempt.acknowledged:
            counts["acknowledged"] += 1
        elif attempt.unsent:
            counts["unsent"] += 1
        elif attempt.token in stored.message_ids:
            counts["uncertain, stored"] += 1
        else:
            counts["uncertain, not stored"] += 1
    return counts


def stored_entry_ids(settings: Settings, prefix: str) -> dict[str, set[str]]:
    stored = Stored.read(settings, prefix)
    return {token: {e for _, _, e in held} for token, held in stored.entries.items()}
