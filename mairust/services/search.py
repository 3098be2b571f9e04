"""Full-text search over the entries in the caller's scope, paged by cursor.

The search role returns entry ids with a score, a snippet and their position in the
search's order; the entries come from the metadata store through the same scope, so a
stale or foreign index hit is left out rather than shown (invariant 5). Pages go by an
opaque cursor like every listing (``next`` of one page starts the next), sealed to the
search it came from (:mod:`mairust.services.search_cursors`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mairust.errors import InvalidInput
from mairust.model.mailbox import MailboxEntry
from mairust.model.principal import Permission, Principal
from mairust.model.search_query import parse_search
from mairust.services.access import require
from mairust.services.search_cursors import SearchCursors, search_binding
from mairust.storage.stores import Stores


@dataclass(frozen=True, slots=True)
class Found:
    entry: MailboxEntry
    score: float
    snippet: str


@dataclass(frozen=True, slots=True)
class SearchPage:
    found: list[Found]
    # The cursor of the next page; None on the last. Hits outside the scope (a stale
    # index) are left out of ``found``, so a page may hold fewer than asked, or none,
    # and still have a next one.
    next: str | None


class SearchService:
    def __init__(self, stores: Stores, cursor_keys: Sequence[bytes]) -> None:
        """``cursor_keys``: the API token digest keys, current first (cursors are sealed
        with a key derived from them)."""
        self._stores = stores
        self._cursors = SearchCursors(cursor_keys)

    def search(
        self,
        principal: Principal,
        q: str,
        mailbox_id: str | None = None,
        limit: int = 50,
        after: str | None = None,
    ) -> SearchPage:
        """Entries matching every word, phrase and filter of ``q``, in the hits' order,
        from behind the cursor ``after`` (the ``next`` of the previous page of the same
        search); InvalidInput for a cursor of another search, scope or an altered one."""
        require(principal, Permission.READ)
        query = parse_search(q)
        if query.is_empty:
            raise InvalidInput("the search query has no words and no filters")
        if limit <= 0:
            raise InvalidInput("the page size must be positive")
        binding = search_binding(principal.scope, mailbox_id, query)
        try:
            start = self._cursors.open(binding, after) if after is not None else None
        except InvalidInput:
            # An unknown mailbox is a 404 before a bad cursor is bad input.
            self._check_mailbox(principal, mailbox_id)
            raise
        # One hit more than asked tells whether another page exists without a count.
        hits = self._stores.search.search(
            principal.scope,
            query.text,
            mailbox_id=mailbox_id,
            limit=limit + 1,
            after=start,
            filters=query.filters,
        )
        page = hits[:limit]
        more = len(hits) > limit
        entries = self._stores.metadata.get_entries(principal.scope, [hit.entry_id for hit in page])
        found = {entry.id: entry for entry in entries}
        shown = [
            Found(found[hit.entry_id], hit.score, hit.snippet)
            for hit in page
            if hit.entry_id in found
        ]
        if not shown:
            # Entries come back through the scope, so one shown proves the mailbox is in
            # it: only an empty page needs the mailbox looked up.
            self._check_mailbox(principal, mailbox_id)
        next_cursor = self._cursors.seal(binding, page[-1].position) if more else None
        return SearchPage(shown, next_cursor)

    def _check_mailbox(self, principal: Principal, mailbox_id: str | None) -> None:
        """NotFound when ``mailbox_id`` is given and not in the caller's scope."""
        if mailbox_id is not None:
            self._stores.metadata.get_mailbox(principal.scope, mailbox_id)
