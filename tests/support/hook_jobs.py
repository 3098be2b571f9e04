"""Test helpers for asynchronous hook jobs: a post_receive plugin's manifest, installing it
(which binds it at post_receive), and a message delivered to mailboxes as the pipeline's
spool commit and store stage would leave it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from mairust.model.directory import Mailbox
from mairust.model.ids import new_id
from mairust.model.mailbox import MailboxEntry, NewEntry
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.model.plugins import InstalledPlugin
from mairust.model.principal import Principal
from mairust.services.application import Application
from mairust.storage.stores import Stores

ADMIN = Principal.platform("test", "127.0.0.1")
RAW = b"Subject: hello\r\nFrom: s@remote.example\r\n\r\nbody text\r\n"

JOB_MANIFEST = """
scopes = {scopes}
permissions = ["tag", "folder", "quarantine", "annotate"]

[plugin]
name = "{name}"
version = "1.0.0"
description = "a post_receive test plugin"
author = "tests"
license = "MIT"

[transport]
kind = "http"
entrypoint = "{url}"

[[hooks]]
point = "post_receive"
mode = "{mode}"

[timeouts]
call_ms = {call_ms}
"""


def install_job_plugin(
    stores: Stores,
    base: Path,
    name: str,
    url: str,
    *,
    mode: str = "enforce",
    scopes: tuple[str, ...] = ("envelope", "headers"),
    call_ms: int = 2000,
) -> InstalledPlugin:
    """Install (and so bind at post_receive) a plugin reached at ``url``."""
    directory = base / name
    directory.mkdir(parents=True, exist_ok=True)
    scope_list = "[" + ", ".join(f'"{scope}"' for scope in scopes) + "]"
    (directory / "plugin.toml").write_text(
        JOB_MANIFEST.format(name=name, url=url, mode=mode, scopes=scope_list, call_ms=call_ms)
    )
    application = Application.over(stores, (b"k" * 32,))
    return application.plugins.install(ADMIN, str(directory))


def deliver(
    stores: Stores, mailboxes: list[Mailbox], raw: bytes = RAW
) -> tuple[MessageRef, list[MailboxEntry]]:
    """The message committed (blob, message and queue rows) and an entry per mailbox."""
    blob = stores.blobs.put(raw)
    ref = MessageRef(id=new_id(), size=blob.size, sha256=blob.sha256, blob_key=blob.key)
    envelope = Envelope(
        mail_from="s@remote.example",
        rcpt_tos=tuple(mailbox.address for mailbox in mailboxes),
        received_at=datetime.now(UTC),
        helo="client.example",
        client_ip="192.0.2.9",
    )
    stores.metadata.commit_messages([SpoolRecord(ref=ref, envelope=envelope)])
    stored = stores.metadata.store_entries(
        [
            NewEntry(
                tenant_id=mailbox.tenant_id,
                mailbox_id=mailbox.id,
                message_id=ref.id,
                subject="hello",
                from_addr="s@remote.example",
                to_addrs=(mailbox.address,),
                date=None,
                size=len(raw),
            )
            for mailbox in mailboxes
        ]
    )
    return ref, [entry for entry in stored if entry is not None]
