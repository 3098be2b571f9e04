"""Full-text search over the mailbox entries in the caller's scope.

:class:`~mairust.services.search.SearchService` decides what is found; a stale or foreign
index hit is left out rather than shown (invariant 5). Pages go by cursor, like the
listings: ``next`` of one page is ``before`` of the next.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from mairust.api.deps import AppDep, Reader
from mairust.api.problems import problem_responses
from mairust.api.route_threads import PooledRoute
from mairust.api.routes.messages import MailboxAddress, mailbox_id_of
from mairust.api.schemas import MessageSummary, SearchPage, SearchResult
from mairust.services.search_cursors import MAX_CURSOR_LENGTH

router = APIRouter(
    route_class=PooledRoute,
    prefix="/api/v1",
    tags=["search"],
    responses=problem_responses(401, 403, 503),
)


@router.get(
    "/search",
    response_model=SearchPage,
    summary="Search messages",
    responses=problem_responses(404, 422),
)
def search_messages(
    principal: Reader,
    application: AppDep,
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
    mailbox: MailboxAddress = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Page size.")] = 50,
    before: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=MAX_CURSOR_LENGTH,
            description="The `next` cursor of the previous page of this same search.",
        ),
    ] = None,
) -> SearchPage:
    """Messages matching every word, phrase and filter of `q`, best first (filters alone:
    newest first), a page at a time: pass the page's `next` as `before` for the next one.
    The order is total (score, then newest first, then id), so walking the pages shows
    each hit once. An empty query, an invalid filter value, or a cursor of another search
    (another `q`, `mailbox` or token scope) or an altered one is a 422."""
    mailbox_id = mailbox_id_of(application, principal, mailbox)
    page = application.search.search(principal, q, mailbox_id, limit, before)
    items = [
        SearchResult(
            **MessageSummary.from_entry(hit.entry).model_dump(),
            score=hit.score,
            snippet=hit.snippet,
        )
        for hit in page.found
    ]
    return SearchPage(items=items, next=page.next)
