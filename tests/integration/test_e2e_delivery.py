"""Scenario: mail in over SMTP to `mairust up`, read back over the API byte-exact, search,
tag and move — plain, multi-recipient, 8-bit, a 10 MiB attachment, bare LF line endings."""

from __future__ import annotations

import os
import re
import smtplib
from email.message import EmailMessage
from typing import Any

import pytest


@pytest.fixture(scope="module")
def server(shared_server):
    for user in ("alice", "bob", "carol"):
        shared_server.add_user(f"{user}@example.test")
    return shared_server


def send(server, mail_from: str, rcpts: list[str], data: bytes) -> str:
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60) as smtp:
        smtp.ehlo("client.example")
        code, reply = smtp.mail(mail_from, ["BODY=8BITMIME"])
        assert code == 250, reply
        for rcpt in rcpts:
            code, reply = smtp.rcpt(rcpt)
            assert code == 250, reply
        code, reply = smtp.data(data)
    assert code == 250, reply
    text = reply.decode()
    match = re.fullmatch(r"2\.0\.0 Ok: queued as (\S+)", text)
    assert match, text
    return match.group(1)


def entries_for(server, wait_until, mailbox: str, message_id: str) -> list[dict[str, Any]]:
    def found():
        with server.api() as api:
            response = api.get("/api/v1/messages", params={"mailbox": mailbox})
            assert response.status_code == 200, response.text
            return [m for m in response.json()["items"] if m["message_id"] == message_id]

    return wait_until(found, what=f"{message_id} in {mailbox}")


def raw_of(server, entry_id: str) -> bytes:
    with server.api() as api:
        response = api.get(f"/api/v1/messages/{entry_id}/raw")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("message/rfc822")
    return response.content


def assert_trace_then(raw: bytes, sent: bytes) -> None:
    """Our Received: header (folded lines), then exactly the bytes the client sent."""
    assert raw.startswith(b"Received: from client.example")
    header_end = re.search(rb"\r\n(?![ \t])", raw)
    assert header_end, raw[:300]
    assert raw[header_end.end() :] == sent


def test_plain_message_read_back_byte_exact(server, wait_until):
    sent = (
        b"From: Sender <sender@remote.example>\r\nTo: alice@example.test\r\n"
        b"Subject: quarterly figures\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
        b"Message-ID: <plain-1@remote.example>\r\n\r\nThe walrus report is attached.\r\n"
        b"..leading dot line\r\n"
    )
    message_id = send(server, "sender@remote.example", ["alice@example.test"], sent)
    [entry] = entries_for(server, wait_until, "alice@example.test", message_id)
    assert entry["subject"] == "quarterly figures"
    assert entry["from"] == "sender@remote.example"
    assert entry["to"] == ["alice@example.test"]
    assert entry["folder"] == "INBOX"
    assert entry["tags"] == []
    assert entry["date"].startswith("2026-11-24T10:00:00")
    raw = raw_of(server, entry["id"])
    # smtplib dot-stuffs the '.' line on the wire; what is stored is un-stuffed again.
    assert_trace_then(raw, sent)
    assert entry["size"] == len(raw)

    with server.api() as api:
        detail = api.get(f"/api/v1/messages/{entry['id']}").json()
    assert "walrus report" in detail["text"]
    assert {"name": "Subject", "value": "quarterly figures"} in detail["headers"]


def test_multi_recipient_one_blob_several_entries(server, wait_until):
    sent = (
        b"From: s@remote.example\r\nTo: alice@example.test, bob@example.test\r\n"
        b"Cc: carol@example.test\r\nSubject: team lunch\r\n\r\nPizza at noon.\r\n"
    )
    rcpts = ["alice@example.test", "bob@example.test", "carol@example.test"]
    message_id = send(server, "s@remote.example", rcpts, sent)
    raws = set()
    for rcpt in rcpts:
        [entry] = entries_for(server, wait_until, rcpt, message_id)
        raws.add(raw_of(server, entry["id"]))
    assert len(raws) == 1
    assert_trace_then(raws.pop(), sent)


def test_8bit_body_and_utf8_subject(server, wait_until):
    sent = (
        "From: s@remote.example\r\nTo: bob@example.test\r\n"
        "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\nGrüße aus Köln, 東京からこんにちは\r\n"
    ).encode()
    message_id = send(server, "s@remote.example", ["bob@example.test"], sent)
    [entry] = entries_for(server, wait_until, "bob@example.test", message_id)
    assert entry["subject"] == "Grüße"
    assert_trace_then(raw_of(server, entry["id"]), sent)
    with server.api() as api:
        detail = api.get(f"/api/v1/messages/{entry['id']}").json()
    assert "東京からこんにちは" in detail["text"]


def test_ten_mib_attachment(server, wait_until):
    msg = EmailMessage()
    msg["From"] = "s@remote.example"
    msg["To"] = "carol@example.test"
    msg["Subject"] = "big attachment"
    msg.set_content("see attached")
    payload = os.urandom(10 * 1024 * 1024)
    msg.add_attachment(payload, maintype="application", subtype="octet-stream", filename="blob.bin")
    sent = msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))
    message_id = send(server, "s@remote.example", ["carol@example.test"], sent)
    [entry] = entries_for(server, wait_until, "carol@example.test", message_id)
    assert_trace_then(raw_of(server, entry["id"]), sent)
    with server.api() as api:
        detail = api.get(f"/api/v1/messages/{entry['id']}").json()
    assert detail["attachments"] == [
        {"filename": "blob.bin", "content_type": "application/octet-stream", "size": len(payload)}
    ]


def test_bare_lf_is_normalised_to_crlf(server, wait_until):
    sent = (
        b"From: s@remote.example\nTo: alice@example.test\nSubject: bare lf\n\nline one\nline two\n"
    )
    message_id = send(server, "s@remote.example", ["alice@example.test"], sent)
    [entry] = entries_for(server, wait_until, "alice@example.test", message_id)
    # smtplib sends bytes as given and closes with CRLF "." CRLF: that CRLF is the last line's.
    assert_trace_then(raw_of(server, entry["id"]), sent.replace(b"\n", b"\r\n") + b"\r\n")


def test_search_tag_and_move(server, wait_until):
    sent = (
        b"From: s@remote.example\r\nTo: bob@example.test\r\nSubject: zeppelin schedule\r\n"
        b"\r\nThe airship departs from hangar nineteen.\r\n"
    )
    message_id = send(server, "s@remote.example", ["bob@example.test"], sent)
    [entry] = entries_for(server, wait_until, "bob@example.test", message_id)

    def hits(q: str) -> list[str]:
        with server.api() as api:
            response = api.get("/api/v1/search", params={"q": q})
            assert response.status_code == 200, response.text
            return [item["id"] for item in response.json()["items"]]

    assert entry["id"] in wait_until(lambda: hits("zeppelin"), what="subject search")
    assert entry["id"] in hits("hangar nineteen")
    assert entry["id"] not in hits("hangar twenty")

    with server.api() as api:
        tagged = api.post(
            f"/api/v1/messages/{entry['id']}/tags", json={"add": ["travel", "urgent"]}
        )
        assert tagged.status_code == 200, tagged.text
        assert sorted(tagged.json()["tags"]) == ["travel", "urgent"]
        untagged = api.post(f"/api/v1/messages/{entry['id']}/tags", json={"remove": ["urgent"]})
        assert untagged.json()["tags"] == ["travel"]
        moved = api.post(f"/api/v1/messages/{entry['id']}/move", json={"folder": "Archive"})
        assert moved.status_code == 200, moved.text
        assert moved.json()["folder"] == "Archive"
        archive = api.get(
            "/api/v1/messages", params={"mailbox": "bob@example.test", "folder": "Archive"}
        ).json()
        inbox = api.get(
            "/api/v1/messages", params={"mailbox": "bob@example.test", "folder": "INBOX"}
        ).json()
    assert entry["id"] in [m["id"] for m in archive["items"]]
    assert entry["id"] not in [m["id"] for m in inbox["items"]]


def test_api_errors_are_problem_json(server):
    with server.api() as api:
        missing = api.get("/api/v1/messages/NOPE")
        unauth = api.get(
            "/api/v1/messages",
            headers={"Authorization": "Bearer wrong"},
            params={"mailbox": "alice@example.test"},
        )
        spec = api.get("/openapi.json")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert unauth.status_code == 401
    assert unauth.headers["content-type"].startswith("application/problem+json")
    assert "/api/v1/messages/{entry_id}/raw" in spec.json()["paths"]
