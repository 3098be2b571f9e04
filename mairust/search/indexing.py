"""Turn mailbox entries into search documents and write them: for the ``index`` stage,
the indexer that drains the search backlog, ``mairust search reindex``, and the API when
an entry's tags or folder change. ``index_or_backlog`` (whole documents) and
``relabel_or_backlog`` (tags and folder only) are the places that decide between writing
to the index now and the durable backlog.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from mairust.auth.results import AuthResults
from mairust.errors import MairustError, NotFound, StorageUnavailable
from mairust.model.mailbox import MailboxEntry, SearchDocument
from mairust.model.parsing import ParsedMessage, parse_message
from mairust.model.scope import PLATFORM
from mairust.storage.stores import Stores

_log = logging.getLogger(__name__)


def search_document(entry: MailboxEntry, parsed: ParsedMessage) -> SearchDocument:
    """The document the search role keeps for ``entry``."""
    return SearchDocument(
        entry_id=entry.id,
        tenant_id=entry.tenant_id,
        mailbox_id=entry.mailbox_id,
        subject=entry.subject,
        from_addr=entry.from_addr,
        to_addrs=entry.to_addrs,
        body=parsed.searchable_body,
        received_at=entry.received_at,
        auth=AuthResults.from_json(entry.auth_results).summary_words()
        if entry.auth_results
        else {},
        tags=entry.tags,
        folder=entry.folder,
    )


def documents_for(stores: Stores, entries: Sequence[MailboxEntry]) -> list[SearchDocument]:
    """The search documents of ``entries``, parsing each blob once; an entry whose blob is
    missing is logged and left out."""
    parsed: dict[str, ParsedMessage] = {}
    documents = []
    for entry in entries:
        if entry.blob_key not in parsed:
            try:
                parsed[entry.blob_key] = parse_message(stores.blobs.get(entry.blob_key))
            except NotFound:
                _log.error("entry %s: blob %s is missing; not indexed", entry.id, entry.blob_key)
                continue
        documents.append(search_document(entry, parsed[entry.blob_key]))
    return documents


def index_entries(stores: Stores, entries: Sequence[MailboxEntry]) -> int:
    """Parse each entry's blob (once per blob) and index them in one bulk write."""
    documents = documents_for(stores, entries)
    stores.search.index(documents)
    return len(documents)


def index_or_backlog(stores: Stores, entries: Sequence[MailboxEntry | SearchDocument]) -> bool:
    """Index ``entries`` now (entries are turned into documents from their blobs; documents
    are written as they are); if search (or the blob store) cannot take them, put them in
    the durable search backlog, where the indexer picks them up. True if indexed now.

    The metadata store is the truth, so a search outage is no failure of the caller's
    change; only a backlog that cannot be written either raises (StorageUnavailable).
    """
    if not entries:
        return True
    ids = [item.entry_id if isinstance(item, SearchDocument) else item.id for item in entries]
    try:
        documents = [item for item in entries if isinstance(item, SearchDocument)]
        others = [item for item in entries if isinstance(item, MailboxEntry)]
        stores.search.index(documents + documents_for(stores, others))
        return True
    except (MairustError, OSError) as error:
        _backlog(stores, ids, error)
        return False


def relabel_or_backlog(stores: Stores, entry: MailboxEntry) -> bool:
    """Bring the indexed tags and folder of ``entry`` (as the metadata store now has them)
    into the index in place, without reading or parsing its blob again; an entry not
    indexed yet is indexed whole. If search cannot take the change, the entry goes to the
    durable backlog, as in :func:`index_or_backlog`. True if the index has it now."""
    try:
        if stores.search.update_labels(entry.id, entry.tags, entry.folder):
            return True
    except (MairustError, OSError) as error:
        _backlog(stores, [entry.id], error)
        return False
    # No document yet (its first indexing failed or has not happened): write all of it.
    return index_or_backlog(stores, [entry])


def _backlog(stores: Stores, ids: Sequence[str], failure: Exception) -> None:
    """Put ``ids`` in the search backlog after ``failure``; StorageUnavailable if the
    backlog cannot be written either."""
    try:
        stores.metadata.add_to_search_backlog(ids)
    except MairustError as backlog_error:
        raise StorageUnavailable(
            f"search is unavailable ({failure}) and so is its backlog ({backlog_error})"
        ) from backlog_error
    _log.warning("search unavailable (%s): %d entries wait in the backlog", failure, len(ids))


def drain_search_backlog(stores: Stores, batch_size: int = 200) -> int:
    """Index what the backlog holds, oldest first; returns how many entries were indexed.

    Stops at the first failure (the search role is still down): the rest stays queued.
    """
    done = 0
    while True:
        ids = stores.metadata.search_backlog(batch_size)
        if not ids:
            return done
        entries = stores.metadata.get_entries(PLATFORM, ids)
        index_entries(stores, entries)
        stores.metadata.remove_from_search_backlog(ids)
        done += len(entries)
        if len(ids) < batch_size:
            return done


def reindex_all(
    stores: Stores,
    batch_size: int = 200,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Index every entry of every tenant again (idempotent upserts), newest first."""
    total = 0
    cursor: str | None = None
    while True:
        page = stores.metadata.list_entries(PLATFORM, limit=batch_size, before=cursor)
        if not page:
            return total
        try:
            total += index_entries(stores, page)
        except MairustError:
            # Whatever failed is in the backlog's hands once search is back.
            stores.metadata.add_to_search_backlog([entry.id for entry in page])
            raise
        if progress is not None:
            progress(len(page))
        cursor = page[-1].id
