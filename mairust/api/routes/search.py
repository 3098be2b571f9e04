"""Full-text search over the mailbox entries in the caller's scope.

The search role returns entry ids with a score and snippet; the summaries come from
the metadata store through the same scope, so a stale or foreign index hit is left
out rather than shown (invariant 5).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from mairust.api.deps import CurrentScope, EntriesDep, MailboxFilter, SearchDep
from mairust.api.problems import problem_responses
from mairust.api.schemas import MessageSummary, SearchPage, SearchResult
from mairust.errors import InvalidInput
from mairust.model.search_query import parse_search

router = APIRouter(prefix="/api/v1", tags=["search"], responses=problem_responses(401, 503))


@router.get(
    "/search",
    response_model=SearchPage,
    summary="Search messages",
    responses=problem_responses(404, 422),
)
def search_messages(
    scope: CurrentScope,
    entries: EntriesDep,
    search: SearchDep,
    mailbox: MailboxFilter,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=1000,
            description='Words and `"quoted phrases"`, every one required (a phrase: '
            "its words side by side, in order). Not engine syntax. Filters: `from:` / `to:` "
            "an address or a domain (To and Cc), `subject:` a word or quoted phrase in the "
            "subject, `tag:`, `folder:` (exact), `after:` / `before:` a day `YYYY-MM-DD` "
            "(UTC; after is inclusive, before exclusive), `spf:`, `dkim:`, `dmarc:`, `arc:` "
            "a result word. Values may be quoted; an invalid value is a 422.",
            examples=[
                "invoice march",
                'from:vendor.test "hangar nineteen" after:2025-01-01',
                'tag:urgent folder:"Archive/2025 Q1"',
                "dmarc:fail",
            ],
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=500, description="Page size.")] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000, description="Hits to skip.")] = 0,
) -> SearchPage:
    """Messages matching every word, phrase and filter of `q`, best first (filters alone:
    newest first). An empty query or an invalid filter value is a 422."""
    query = parse_search(q)
    if query.is_empty:
        raise InvalidInput("the search query has no words and no filters")
    hits = search.search(
        scope,
        query.text,
        mailbox_id=mailbox.id if mailbox is not None else None,
        limit=limit,
        offset=offset,
        filters=query.filters,
    )
    found = {e.id: e for e in entries.get_entries(scope, [hit.entry_id for hit in hits])}
    items = [
        SearchResult(
            **MessageSummary.from_entry(found[hit.entry_id]).model_dump(),
            score=hit.score,
            snippet=hit.snippet,
        )
        for hit in hits
        if hit.entry_id in found
    ]
    # A full page of hits may have more behind it; a short one is the end.
    next_offset = offset + limit if len(hits) == limit else None
    return SearchPage(items=items, limit=limit, offset=offset, next_offset=next_offset)
