"""Message bodies and full-text search: the two roles that are not the metadata store.

Part of :mod:`mairust.storage.protocols`; its docstring says what holds for every role.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from mairust.model.mailbox import (
    SearchDocument,
    SearchHit,
    SearchPosition,
)
from mairust.model.message import BlobInfo
from mairust.model.scope import Scope


class BlobStore(Protocol):
    """Message bodies, content-addressed: the key is derived from the sha256."""

    def put(self, data: bytes) -> BlobInfo:
        """Store ``data`` durably (fsync of file and directory, or S3 PUT answered)."""
        ...

    def get(self, key: str) -> bytes:
        """The exact bytes stored under ``key``; NotFound if absent."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the blob; absent keys are ignored."""
        ...

    def close(self) -> None: ...


class SearchIndex(Protocol):
    """Full-text search over mailbox entries."""

    # True when opening dropped an index of an older layout: every entry must be indexed
    # again (``mairust up`` then does it before it starts taking mail).
    needs_reindex: bool

    def index(self, documents: Sequence[SearchDocument]) -> None:
        """Insert or replace each document by entry_id (idempotent)."""
        ...

    def delete(self, entry_ids: Sequence[str]) -> None: ...

    def update_labels(self, entry_id: str, tags: Sequence[str], folder: str) -> bool:
        """Replace the tags and folder of the indexed document of ``entry_id``, leaving the
        rest of it as it is; searchable on return, like ``index``. False (and nothing
        written) when no document of ``entry_id`` is indexed: the caller indexes it whole."""
        ...

    def search(
        self,
        scope: Scope,
        query: str,
        mailbox_id: str | None = None,
        limit: int = 50,
        after: SearchPosition | None = None,
        filters: Mapping[str, str] | None = None,
    ) -> list[SearchHit]:
        """Entries matching every word of ``query`` (free text, never raw engine syntax),
        best first, and every filter (``{"dmarc": "fail"}``; keys from
        ``mairust.model.search_query.FILTER_KEYS``, newest first when there are no words).
        InvalidInput for an empty query without filters, or an unknown filter key.

        The order is total (score, then newest first, then entry id), so pages never
        repeat or skip a hit while the index does not change: ``after`` is the
        ``position`` of the last hit of the previous page of the same search, and the
        page starts behind it. InvalidInput for an ``after`` this backend cannot have
        made (its shape or types are wrong)."""
        ...

    def close(self) -> None: ...
