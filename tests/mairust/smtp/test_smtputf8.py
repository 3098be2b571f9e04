"""SMTPUTF8 (RFC 6531) and 8-bit headers (RFC 6532) end to end, over raw sockets.

A real front-end with ``trusted_networks`` narrowed to 127.0.0.1/32, clients bound to
127.0.0.16-127.0.0.35: a non-ASCII address needs the ``SMTPUTF8`` parameter (else
``553 5.6.7``, at MAIL or at RCPT); with it, a message with raw UTF-8 in From, To and
Subject goes through the pipeline into a mailbox and reads back byte for byte from the
store and from ``GET /api/v1/messages/{id}/raw``, its envelope as given, its subject
decoded in the listing and found by search.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from fastapi import FastAPI

from mairust.api import create_app
from mairust.config import Settings
from mairust.model.scope import PLATFORM
from mairust.pipeline.runner import PipelineRunner
from tests.mairust.smtp.conftest import DOMAIN, RawClientFactory, StartMta

UNTRUSTED = {"trusted_networks": ["127.0.0.1/32"]}
SENDER = "josé@remote.test"
RECIPIENT = f"ñoño@{DOMAIN}"
SUBJECT = "Überraschung für Señor Ñoño ☃"
MESSAGE = (
    f"From: José Núñez <{SENDER}>\r\n"
    f"To: Ñoño <{RECIPIENT}>\r\n"
    f"Subject: {SUBJECT}\r\n"
    "Date: Mon, 30 Nov 2026 10:00:00 +0000\r\n"
    "Message-ID: <utf8-1@remote.test>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Grüße aus Köln, ½ € 🎉\r\n"
).encode()
ADMIN_TOKEN = "utf8-admin"
TOKEN_KEYS = (b"mairust-test-token-digest-key-32",)


def api_client(app: FastAPI) -> httpx.AsyncClient:
    """An in-process client of ``app`` with the operator's token."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )


async def test_non_ascii_addresses_without_smtputf8_get_553_5_6_7(
    start_mta: StartMta, raw_client: RawClientFactory
) -> None:
    mta = await start_mta(auth_settings=UNTRUSTED)
    mta.stores.metadata.add_mailbox(RECIPIENT)

    def run() -> list[str]:
        client = raw_client(mta.port, "127.0.0.16")
        return client.dialog(
            [
                "EHLO client.test",
                f"MAIL FROM:<{SENDER}>",
                "MAIL FROM:<sender@remote.test>",
                f"RCPT TO:<{RECIPIENT}>",
                "RSET",
                f"MAIL FROM:<{SENDER}> SMTPUTF8",
                f"RCPT TO:<{RECIPIENT}>",
            ]
        )

    replies = await asyncio.to_thread(run)
    assert "250-SMTPUTF8" in replies[0].split("\r\n")
    assert replies[1] == "553 5.6.7 Non-ASCII address requires SMTPUTF8"
    assert replies[2].startswith("250 ")
    assert replies[3] == "553 5.6.7 Non-ASCII address requires SMTPUTF8"
    assert replies[5].startswith("250 ") and replies[6].startswith("250 ")
    assert mta.queued() == []


async def test_utf8_headers_reach_the_mailbox_and_the_api_byte_for_byte(
    start_mta: StartMta, raw_client: RawClientFactory, tmp_path: Path
) -> None:
    mta = await start_mta(auth_settings=UNTRUSTED)
    settings = Settings(data_dir=tmp_path, api={"admin_token": ADMIN_TOKEN})
    app = create_app(settings, mta.stores, TOKEN_KEYS)
    # The mailbox with a non-ASCII local part is made as an operator would: through the API.
    async with api_client(app) as api:
        created = await api.post("/api/v1/users", json={"address": RECIPIENT})
    assert created.status_code == 201, created.text
    mailbox_id = created.json()["id"]

    def run() -> list[str]:
        client = raw_client(mta.port, "127.0.0.17")
        return client.dialog(
            [
                "EHLO client.test",
                f"MAIL FROM:<{SENDER}> SMTPUTF8 BODY=8BITMIME",
                f"RCPT TO:<{RECIPIENT}>",
                "DATA",
                MESSAGE + b".\r\n",
            ]
        )

    replies = await asyncio.to_thread(run)
    assert replies[4].startswith("250 "), replies
    [item] = mta.queued()
    assert item.recipient == RECIPIENT
    envelope = mta.stores.metadata.message_envelopes([item.message.id])[item.message.id]
    assert envelope.mail_from == SENDER
    assert envelope.rcpt_tos == (RECIPIENT,)

    leased = mta.stores.metadata.lease_batch("utf8", 10, 60)
    PipelineRunner(mta.stores, mta.settings.queue).process(leased, "utf8")
    [entry] = mta.stores.metadata.list_entries(PLATFORM)
    assert entry.mailbox_id == mailbox_id
    assert entry.subject == SUBJECT
    stored = mta.stores.blobs.get(entry.blob_key)
    # Our Received: trace is prepended; the message as sent follows it unchanged.
    assert stored.startswith(b"Received: ") and stored.endswith(MESSAGE)
    trace = stored[: -len(MESSAGE)]
    assert b" with UTF8SMTP id " in trace and f"for <{RECIPIENT}>".encode() in trace

    async with api_client(app) as api:
        raw = await api.get(f"/api/v1/messages/{entry.id}/raw")
        listing = await api.get("/api/v1/messages", params={"mailbox_id": mailbox_id})
        query = {"mailbox_id": mailbox_id, "q": "Überraschung"}
        found = await api.get("/api/v1/search", params=query)
    assert raw.status_code == 200 and raw.content == stored
    assert listing.status_code == 200
    [summary] = listing.json()["items"]
    assert summary["subject"] == SUBJECT
    assert found.status_code == 200, found.text
    assert [hit["id"] for hit in found.json()["items"]] == [entry.id]
