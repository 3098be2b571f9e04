"""Stage ``store``: put the message in the recipient's mailbox (idempotent per mailbox)."""

from __future__ import annotations

from typing import ClassVar

from mairust.model.mailbox import DEFAULT_FOLDER, NewEntry
from mairust.pipeline.work import BatchContext, Outcome, RecipientWork
from mairust.routing.router import LocalMailbox


class StoreStage:
    name: ClassVar[str] = "store"
    description: ClassVar[str] = (
        "Create the mailbox entry for a local recipient, in the folder and with the tags the "
        "message was annotated with at accept time (INBOX and none by default)."
    )

    def run(self, work: RecipientWork, batch: BatchContext) -> Outcome | None:
        if not isinstance(work.route, LocalMailbox):
            raise RuntimeError("store stage needs the route stage before it")
        parsed = work.message.parsed
        if parsed is None:
            raise RuntimeError("store stage needs the parse stage before it")
        mailbox = work.route.mailbox
        work.entry = batch.stores.metadata.store_entry(
            NewEntry(
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
            )
        )
        return None
