"""The GraphQL queries: mailboxes, folders, messages, one message, threads and search.

Each resolver parses its arguments, calls one service through the caller's principal and
presents the result; the services decide what the caller may see (another tenant's id is
NotFound, a user sees their own mailbox only).
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from mairust.api.graphql import inputs
from mairust.api.graphql.context import GraphQLContext
from mairust.api.graphql.limits import DEFAULT_PAGE, page_size
from mairust.api.graphql.types import (
    Folder,
    HeldMessage,
    HeldPage,
    Mailbox,
    Message,
    MessageDetail,
    MessageFilter,
    MessagePage,
    SearchPage,
    SearchResult,
    Thread,
    ThreadPage,
    ThreadSummary,
)
from mairust.model.search_query import normalised_filters
from mairust.services.mailboxes import EntryFilters
from mairust.services.search_cursors import MAX_CURSOR_LENGTH

Context = Info[GraphQLContext, None]


@strawberry.type
class Query:
    @strawberry.field(description="The mailboxes (users) in the caller's scope, by address.")
    async def mailboxes(self, info: Context) -> list[Mailbox]:
        ctx = info.context
        found = await ctx.call(ctx.application.directory.list_users, ctx.principal)
        return [Mailbox.of(mailbox) for mailbox in found]

    @strawberry.field(description="The folders of a mailbox, as its messages name them.")
    async def folders(self, info: Context, mailbox_id: strawberry.ID) -> list[Folder]:
        ctx = info.context
        found = await ctx.call(ctx.application.mailboxes.folders, ctx.principal, mailbox_id)
        return [Folder.of(folder) for folder in found]

    @strawberry.field(description="A page of messages, newest first.")
    async def messages(
        self,
        info: Context,
        mailbox_id: strawberry.ID | None = None,
        filter: MessageFilter | None = None,
        first: int = DEFAULT_PAGE,
        after: strawberry.ID | None = None,
    ) -> MessagePage:
        ctx = info.context
        wanted = filter or MessageFilter()
        filters = EntryFilters(
            from_addr=(
                inputs.bounded(wanted.from_, inputs.MAX_ADDRESS_LENGTH, "from")
                if wanted.from_ is not None
                else None
            ),
            tag=inputs.tag(wanted.tag) if wanted.tag is not None else None,
            received_after=wanted.received_after,
            received_before=wanted.received_before,
            unread=wanted.unread,
            flagged=wanted.flagged,
            # The search filters' rule for result words: lower-cased, never empty.
            auth=normalised_filters(wanted.auth.words()) if wanted.auth is not None else None,
        )
        page = await ctx.call(
            ctx.application.mailboxes.page,
            ctx.principal,
            mailbox_id,
            inputs.folder(wanted.folder) if wanted.folder is not None else None,
            page_size(first),
            after,
            filters,
        )
        return MessagePage(
            items=[Message.of(entry) for entry in page.items],
            next=strawberry.ID(page.next) if page.next is not None else None,
        )

    @strawberry.field(
        description="A page of the messages held in Quarantine (by hooks' quarantine "
        "verdicts), newest first, each with the folder a release puts it in."
    )
    async def quarantine(
        self,
        info: Context,
        mailbox_id: strawberry.ID | None = None,
        first: int = DEFAULT_PAGE,
        after: strawberry.ID | None = None,
    ) -> HeldPage:
        ctx = info.context
        page = await ctx.call(
            ctx.application.quarantine.page, ctx.principal, mailbox_id, page_size(first), after
        )
        return HeldPage(
            items=[HeldMessage.of_held(held) for held in page.items],
            next=strawberry.ID(page.next) if page.next is not None else None,
        )

    @strawberry.field(description="One message, parsed: headers, bodies, attachments.")
    async def message(self, info: Context, id: strawberry.ID) -> MessageDetail | None:
        ctx = info.context
        entry, parsed = await ctx.call(ctx.application.mailboxes.read, ctx.principal, id)
        notes = await ctx.call(ctx.application.mailboxes.notes, entry)
        return MessageDetail.read(entry, parsed, notes)

    @strawberry.field(description="A page of threads, newest activity first.")
    async def threads(
        self,
        info: Context,
        mailbox_id: strawberry.ID | None = None,
        first: int = DEFAULT_PAGE,
        after: strawberry.ID | None = None,
    ) -> ThreadPage:
        ctx = info.context
        page = await ctx.call(
            ctx.application.mailboxes.threads, ctx.principal, mailbox_id, page_size(first), after
        )
        return ThreadPage(
            items=[ThreadSummary.of(summary) for summary in page.items],
            next=strawberry.ID(page.next) if page.next is not None else None,
        )

    @strawberry.field(description="The thread of a message: its first `first` messages.")
    async def thread(
        self, info: Context, message_id: strawberry.ID, first: int = DEFAULT_PAGE
    ) -> Thread | None:
        ctx = info.context
        size = page_size(first)
        found = await ctx.call(ctx.application.mailboxes.thread, ctx.principal, message_id)
        return Thread(
            id=strawberry.ID(found[0].thread_id),
            messages=[Message.of(entry) for entry in found[:size]],
        )

    @strawberry.field(
        description="Messages matching every word, phrase and filter of `query`, best first "
        "(score, then newest, then id: each hit on exactly one page)."
    )
    async def search(
        self,
        info: Context,
        query: str,
        mailbox_id: strawberry.ID | None = None,
        first: int = DEFAULT_PAGE,
        after: strawberry.ID | None = None,
    ) -> SearchPage:
        ctx = info.context
        if after is not None:
            inputs.bounded(after, MAX_CURSOR_LENGTH, "after")
        page = await ctx.call(
            ctx.application.search.search,
            ctx.principal,
            inputs.bounded(query, inputs.MAX_QUERY_LENGTH, "query"),
            mailbox_id,
            page_size(first),
            after,
        )
        return SearchPage(
            items=[
                SearchResult(message=Message.of(hit.entry), score=hit.score, snippet=hit.snippet)
                for hit in page.found
            ],
            next=strawberry.ID(page.next) if page.next is not None else None,
        )
