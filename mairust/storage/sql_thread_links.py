"""Store-time threading in SQL: link new entries to the ids they name, and merge threads.

Runs inside :meth:`~mairust.storage.sql_entries.SqlEntries.store_entries`, in the same
transaction as the entries, after the mailboxes were locked (so two batches of one mailbox
thread one after the other and cannot each miss the other's half of a link). The rule
is :mod:`mairust.model.threads`; this module only finds, in ``thread_links``, the
threads that share an id with a new entry, and renames them to one.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mairust.model.mailbox import MailboxEntry
from mairust.model.threads import ThreadHeaders, merge_threads
from mairust.storage.sql_schema import entries, thread_links

_CHUNK = 400  # pairs per IN list: far below every dialect's bound-parameter limit


def link_threads(
    conn: Connection, new: Sequence[tuple[MailboxEntry, ThreadHeaders]]
) -> dict[str, str]:
    """Record the ids each new entry is joined to, then join the threads that share one
    (new entries included, each arriving in a thread of its own). Returns the renames:
    old thread id -> new one, for every thread whose id changed."""
    links = [
        {"entry_id": entry.id, "mailbox_id": entry.mailbox_id, "msgid": msgid}
        for entry, headers in new
        for msgid in dict.fromkeys(headers.linked_ids)
    ]
    if not links:
        return {}
    conn.execute(thread_links.insert(), links)
    nodes = list({(link["mailbox_id"], link["msgid"]) for link in links})
    pairs: list[tuple[tuple[str, str], str]] = []
    for start in range(0, len(nodes), _CHUNK):
        chunk = nodes[start : start + _CHUNK]
        # DISTINCT: a much-referenced id has many links but, threads being merged at
        # every store, mostly one thread.
        query = (
            sa.select(thread_links.c.mailbox_id, thread_links.c.msgid, entries.c.thread_id)
            .join(entries, entries.c.id == thread_links.c.entry_id)
            .where(sa.tuple_(thread_links.c.mailbox_id, thread_links.c.msgid).in_(chunk))
            .distinct()
        )
        pairs.extend(((row.mailbox_id, row.msgid), row.thread_id) for row in conn.execute(query))
    renames = merge_threads(pairs)
    # A thread id is an entry id, so it names one mailbox; the mailbox term uses the index.
    mailbox_of = {thread: mailbox for (mailbox, _), thread in pairs}
    by_target: dict[tuple[str, str], list[str]] = {}
    for old, target in renames.items():
        by_target.setdefault((mailbox_of[old], target), []).append(old)
    for (mailbox_id, target), olds in by_target.items():
        for start in range(0, len(olds), _CHUNK):
            conn.execute(
                entries.update()
                .where(
                    entries.c.mailbox_id == mailbox_id,
                    entries.c.thread_id.in_(olds[start : start + _CHUNK]),
                )
                .values(thread_id=target)
            )
    return renames
