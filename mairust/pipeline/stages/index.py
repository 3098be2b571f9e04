"""Stage ``index``: queue the entry for the batch's one bulk write to the search role."""

from __future__ import annotations

from typing import ClassVar

from mairust.pipeline.indexing import search_document
from mairust.pipeline.work import BatchContext, Outcome, RecipientWork


class IndexStage:
    name: ClassVar[str] = "index"
    description: ClassVar[str] = "Add the entry's subject, addresses and text to full-text search."

    def run(self, work: RecipientWork, batch: BatchContext) -> Outcome | None:
        entry, parsed = work.entry, work.message.parsed
        if entry is None or parsed is None:
            raise RuntimeError("index stage needs the store and parse stages before it")
        document = search_document(entry, parsed)
        # The runner writes all documents of the batch in one call, then acks their rows.
        batch.pending_documents.append((work, document))
        return None
