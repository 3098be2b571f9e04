"""Put entries straight into a metadata store (message row, then entry), with the
threading headers and authentication results a test needs."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from mairust.model.directory import Mailbox, Tenant
from mairust.model.ids import new_id
from mairust.model.mailbox import MailboxEntry, NewEntry
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.model.threads import ThreadHeaders
from mairust.storage.protocols import MetadataStore


def tenant_with_mailboxes(
    store: MetadataStore, name: str, *locals_: str
) -> tuple[Tenant, list[Mailbox]]:
    """A tenant owning domain ``<name>.example`` with one mailbox per local part."""
    tenant = store.create_tenant(name)
    domain = f"{name}.example"
    store.add_domain(domain, tenant.id)
    return tenant, [store.add_mailbox(f"{local}@{domain}") for local in locals_]


def spooled(
    store: MetadataStore,
    mailbox: Mailbox,
    received_at: datetime | None = None,
    auth_results: dict[str, Any] | None = None,
) -> str:
    """Commit a message row for ``mailbox`` (as the spool does); its id."""
    data = new_id().encode()
    digest = hashlib.sha256(data).hexdigest()
    ref = MessageRef(id=new_id(), size=len(data), sha256=digest, blob_key=digest)
    envelope = Envelope(
        mail_from="sender@remote.test",
        rcpt_tos=(mailbox.address,),
        received_at=received_at or datetime.now(UTC),
    )
    store.commit_messages([SpoolRecord(ref=ref, envelope=envelope, auth_results=auth_results)])
    return ref.id


def new_entry(
    mailbox: Mailbox,
    message_id: str,
    own: str | None = None,
    refs: Sequence[str] = (),
    **changes: Any,
) -> NewEntry:
    """A NewEntry for ``message_id`` in ``mailbox``, Message-ID ``own``, References ``refs``."""
    fields: dict[str, Any] = {
        "tenant_id": mailbox.tenant_id,
        "mailbox_id": mailbox.id,
        "message_id": message_id,
        "subject": "hello",
        "from_addr": "sender@remote.test",
        "to_addrs": (mailbox.address,),
        "date": None,
        "size": 10,
        "thread": ThreadHeaders(
            message_id=own,
            in_reply_to=refs[-1] if refs else None,
            references=tuple(refs),
        ),
    }
    fields.update(changes)
    return NewEntry(**fields)


def deliver(
    store: MetadataStore,
    mailbox: Mailbox,
    own: str | None = None,
    refs: Sequence[str] = (),
    received_at: datetime | None = None,
    auth_results: dict[str, Any] | None = None,
    **changes: Any,
) -> MailboxEntry:
    """Spool a message and store its entry in ``mailbox``."""
    message_id = spooled(store, mailbox, received_at, auth_results)
    return store.store_entry(new_entry(mailbox, message_id, own, refs, **changes))
