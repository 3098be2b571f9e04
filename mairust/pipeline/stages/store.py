"""Stage ``store``: put the message in each recipient's mailbox, the whole batch in one
transaction (idempotent per mailbox and message)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from mairust.model.mailbox import DEFAULT_FOLDER, NewEntry
from mairust.model.threads import thread_headers
from mairust.pipeline.stages.base import Ended
from mairust.pipeline.work import BatchContext, Failed, RecipientWork
from mairust.routing.router import LocalMailbox


class StoreStage:
    name: ClassVar[str] = "store"
    description: ClassVar[str] = (
        "Create the mailbox entry for each local recipient, in the folder and with the tags "
        "the message was annotated with at accept time (INBOX and none by default), in the "
        "thread its Message-ID, In-Reply-To and References link it to."
    )

    def run(self, works: Sequence[RecipientWork], batch: BatchContext) -> Ended:
        stored = batch.stores.metadata.store_entries([_new_entry(work) for work in works])
        ended: Ended = {}
        for work, entry in zip(works, stored, strict=True):
            if entry is None:
                # Routed a moment ago, gone since (mailbox deleted): permanent.
                ended[work.item.id] = Failed(f"5.1.1 mailbox {work.item.recipient} is gone")
            work.entry = entry
        return ended


def _new_entry(work: RecipientWork) -> NewEntry:
    parsed = work.message.parsed
    if not isinstance(work.route, LocalMailbox) or parsed is None:
        raise RuntimeError("store stage needs the parse and route stages before it")
    mailbox = work.route.mailbox
    return NewEntry(
        tenant_id=mailbox.tenant_id,
        mailbox_id=mailbox.id,
        message_id=work.message.ref.id,
        subject=parsed.subject,
        from_addr=parsed.from_addr,
        to_addrs=parsed.to_addrs,
        date=parsed.date,
        size=work.message.ref.size,
        folder=work.item.annotations.folder or DEFAULT_FOLDER,
        tags=work.item.annotations.tags,
        thread=thread_headers(parsed.headers),
    )
