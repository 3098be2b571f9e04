"""Full-text search over the entries in the caller's scope.

The search role returns entry ids with a score and snippet; the entries come from the
metadata store through the same scope, so a stale or foreign index hit is left out
rather than shown (invariant 5).
"""

from __future__ import annotations

from dataclasses import dataclass

from mairust.errors import InvalidInput
from mairust.model.mailbox import MailboxEntry
from mairust.model.principal import Permission, Principal
from mairust.model.search_query import parse_search
from mairust.services.access import require
from mairust.storage.stores import Stores


@dataclass(frozen=True, slots=True)
class Found:
    entry: MailboxEntry
    score: float
    snippet: str


@dataclass(frozen=True, slots=True)
class SearchPage:
    found: list[Found]
    # The index filled the page: more hits may be behind it (hits outside the scope are
    # left out of ``found``, so its length cannot tell).
    full: bool


class SearchService:
    def __init__(self, stores: Stores) -> None:
        self._stores = stores

    def search(
        self,
        principal: Principal,
        q: str,
        mailbox_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> SearchPage:
        """Entries matching every word, phrase and filter of ``q``; the hits' order."""
        require(principal, Permission.READ)
        query = parse_search(q)
        if query.is_empty:
            raise InvalidInput("the search query has no words and no filters")
        if mailbox_id is not None:
            self._stores.metadata.get_mailbox(principal.scope, mailbox_id)
        hits = self._stores.search.search(
            principal.scope,
            query.text,
            mailbox_id=mailbox_id,
            limit=limit,
            offset=offset,
            filters=query.filters,
        )
        entries = self._stores.metadata.get_entries(principal.scope, [hit.entry_id for hit in hits])
        found = {entry.id: entry for entry in entries}
        shown = [
            Found(found[hit.entry_id], hit.score, hit.snippet)
            for hit in hits
            if hit.entry_id in found
        ]
        return SearchPage(shown, full=len(hits) == limit)
