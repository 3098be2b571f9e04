"""The GraphQL mutations: tag, move, flag and delete (to Trash) one message.

Each calls :class:`~mairust.services.mailboxes.MailboxService` with the caller's principal
(it needs the ``write`` permission) and returns the message as it is afterwards.
"""

from __future__ import annotations

import strawberry

from mairust.api.graphql import inputs
from mairust.api.graphql.queries import Context
from mairust.api.graphql.types import Message
from mairust.errors import NotFound


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Add and remove tags; a message carries at most 50.")
    async def tag_message(
        self,
        info: Context,
        id: strawberry.ID,
        add: list[str] | None = None,
        remove: list[str] | None = None,
    ) -> Message:
        ctx = info.context
        entry = await ctx.call(
            ctx.application.mailboxes.tag,
            ctx.principal,
            id,
            add=inputs.tags(add),
            remove=inputs.tags(remove),
        )
        return Message.of(entry)

    @strawberry.mutation(description="Move to another folder (created implicitly).")
    async def move_message(self, info: Context, id: strawberry.ID, folder: str) -> Message:
        ctx = info.context
        entry = await ctx.call(
            ctx.application.mailboxes.move, ctx.principal, id, inputs.folder(folder)
        )
        return Message.of(entry)

    @strawberry.mutation(description="Set the seen and flagged flags; an omitted one is kept.")
    async def flag_message(
        self,
        info: Context,
        id: strawberry.ID,
        seen: bool | None = None,
        flagged: bool | None = None,
    ) -> Message:
        ctx = info.context
        entry = await ctx.call(
            ctx.application.mailboxes.flag, ctx.principal, id, seen=seen, flagged=flagged
        )
        return Message.of(entry)

    @strawberry.mutation(description="Delete: move the message to the Trash folder.")
    async def delete_message(self, info: Context, id: strawberry.ID) -> Message:
        ctx = info.context
        deleted = await ctx.call(ctx.application.mailboxes.delete, ctx.principal, id)
        if deleted.entry is None:  # only a purge leaves no entry, and this one moves
            raise NotFound(f"no such entry: {id}")
        return Message.of(deleted.entry)

    @strawberry.mutation(
        description="Release a held message to the folder it would have been delivered to "
        "(INBOX when none); CONFLICT when it is not held."
    )
    async def release_message(self, info: Context, id: strawberry.ID) -> Message:
        ctx = info.context
        released = await ctx.call(ctx.application.quarantine.release, ctx.principal, id)
        return Message.of(released)

    @strawberry.mutation(
        description="Delete a held message for good (its stored body too once nothing else "
        "needs it); CONFLICT when it is not held. Answers its id."
    )
    async def delete_held_message(self, info: Context, id: strawberry.ID) -> strawberry.ID:
        ctx = info.context
        await ctx.call(ctx.application.quarantine.delete, ctx.principal, id)
        return id
