"""Stage ``index``: the batch's entries into full-text search in one bulk write, or into
the durable search backlog when search is down (delivery never waits for search)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from mairust.pipeline.stages.base import Ended
from mairust.pipeline.work import BatchContext, RecipientWork
from mairust.search.indexing import index_or_backlog, search_document


class IndexStage:
    name: ClassVar[str] = "index"
    description: ClassVar[str] = "Add the entry's subject, addresses and text to full-text search."

    def run(self, works: Sequence[RecipientWork], batch: BatchContext) -> Ended:
        documents = []
        indexed: set[str] = set()
        for work in works:
            parsed = work.message.parsed
            if not work.entries or parsed is None:
                raise RuntimeError("index stage needs the store and parse stages before it")
            for entry in work.entries:
                # Two rows of the batch may share an entry (an alias and its target).
                if entry.id not in indexed:
                    indexed.add(entry.id)
                    documents.append(search_document(entry, parsed))
        # Raises only when neither search nor its backlog can take them: rows are deferred.
        index_or_backlog(batch.stores, documents)
        return {}
