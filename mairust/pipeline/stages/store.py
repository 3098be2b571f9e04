"""Stage ``store``: put the message in each recipient's mailbox (each mailbox of an alias),
the whole batch in one transaction (idempotent per mailbox and message)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from mairust.model.directory import Mailbox
from mairust.model.mailbox import DEFAULT_FOLDER, MailboxEntry, NewEntry
from mairust.model.threads import thread_headers
from mairust.pipeline.stages.base import Ended
from mairust.pipeline.work import BatchContext, Failed, RecipientWork
from mairust.routing.router import mailboxes_of


class StoreStage:
    name: ClassVar[str] = "store"
    description: ClassVar[str] = (
        "Create the mailbox entry for each local recipient (each mailbox of an alias), in "
        "the folder and with the tags the message was annotated with at accept time (INBOX "
        "and none by default), in the thread its Message-ID, In-Reply-To and References "
        "link it to."
    )

    def run(self, works: Sequence[RecipientWork], batch: BatchContext) -> Ended:
        # One entry per (mailbox, message) in the batch: an alias and one of its targets
        # named in the same envelope make one copy, not two.
        wanted: dict[tuple[str, str], NewEntry] = {}
        for work in works:
            for mailbox in _mailboxes(work):
                key = (mailbox.id, work.message.ref.id)
                if key not in wanted:
                    wanted[key] = _new_entry(work, mailbox)
        new_entries = list(wanted.values())
        stored = batch.stores.metadata.store_entries(new_entries)
        found: dict[tuple[str, str], MailboxEntry | None] = dict(zip(wanted, stored, strict=True))
        ended: Ended = {}
        for work in works:
            keys = [(mailbox.id, work.message.ref.id) for mailbox in _mailboxes(work)]
            work.entries = [entry for key in keys if (entry := found[key]) is not None]
            if not work.entries:
                # Routed a moment ago, gone since (mailbox deleted): permanent.
                ended[work.item.id] = Failed(f"5.1.1 mailbox {work.item.recipient} is gone")
        return ended


def _mailboxes(work: RecipientWork) -> tuple[Mailbox, ...]:
    mailboxes = mailboxes_of(work.route) if work.route is not None else ()
    if not mailboxes or work.message.parsed is None:
        raise RuntimeError("store stage needs the parse and route stages before it")
    return mailboxes


def _new_entry(work: RecipientWork, mailbox: Mailbox) -> NewEntry:
    parsed = work.message.parsed
    assert parsed is not None  # checked by _mailboxes
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
