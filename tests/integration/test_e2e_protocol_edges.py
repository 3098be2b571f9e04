"""Scenario: protocol edge cases against `mairust up` — each gets the right reply with an
enhanced status code, and nothing is stored (no blob, no queue row)."""

from __future__ import annotations

import smtplib

import pytest


@pytest.fixture(scope="module")
def server(shared_server):
    shared_server.add_user("edge@example.test")
    return shared_server


def stored_state(server) -> tuple[int, int]:
    """(queue rows, blobs): both must stay put when mail is refused. The blobs are counted
    where the server keeps them (its folder, or its S3 bucket under the production config);
    test_hundred_recipients shows the count moves when a message is stored."""
    with server.api() as api:
        stats = api.get("/api/v1/queue/stats")
    assert stats.status_code == 200, stats.text
    rows = sum(stats.json()["counts"].values())
    return rows, len(server.blob_names())


def session(server) -> smtplib.SMTP:
    smtp = smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60)
    smtp.ehlo("edge.example")
    return smtp


def test_unknown_recipient(server):
    before = stored_state(server)
    with session(server) as smtp:
        smtp.mail("a@remote.example")
        code, reply = smtp.rcpt("nobody@example.test")
    assert (code, reply[:5]) == (550, b"5.1.1")
    assert stored_state(server) == before


def test_relay_attempt(server):
    before = stored_state(server)
    with session(server) as smtp:
        smtp.mail("a@remote.example")
        code, reply = smtp.rcpt("victim@elsewhere.example")
    assert (code, reply[:5]) == (554, b"5.7.1")
    assert stored_state(server) == before


def test_oversize_declared_and_sent(server):
    before = stored_state(server)
    with session(server) as smtp:
        limit = int(smtp.esmtp_features["size"])
        code, reply = smtp.mail("a@remote.example", [f"SIZE={limit + 1}"])
        assert (code, reply[:5]) == (552, b"5.3.4")
        smtp.rset()
        smtp.mail("a@remote.example")
        smtp.rcpt("edge@example.test")
        body = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * (limit // 1000 + 10)
        code, reply = smtp.data(body)
    assert (code, reply[:5]) == (552, b"5.3.4")
    assert stored_state(server) == before


def test_malformed_mail_from(server):
    with session(server) as smtp:
        code, reply = smtp.docmd("MAIL FROM:<not an address>")
        assert code in (501, 553) and reply[:2] == b"5."
        code, reply = smtp.docmd("MAIL FROM:")
        assert code == 501 and reply[:2] == b"5."


def test_rcpt_before_mail(server):
    with session(server) as smtp:
        code, reply = smtp.docmd("RCPT TO:<edge@example.test>")
    assert (code, reply[:5]) == (503, b"5.5.1")


def test_hundred_recipients(server, wait_until):
    addresses = [f"r{n:03d}@example.test" for n in range(100)]
    with server.api() as api:
        for address in addresses:
            created = api.post("/api/v1/users", json={"address": address})
            assert created.status_code in (201, 409), created.text
    rows_before, blobs_before = stored_state(server)
    with session(server) as smtp:
        smtp.mail("list@remote.example")
        for address in addresses:
            code, reply = smtp.rcpt(address)
            assert code == 250, reply
        code, reply = smtp.rcpt("edge@example.test")
        assert (code, reply[:5]) == (452, b"4.5.3")
        code, reply = smtp.data(b"Subject: to a hundred\r\n\r\nhello all\r\n")
    assert code == 250, reply
    message_id = reply.decode().rsplit(" ", 1)[1]

    def delivered() -> bool:
        with server.api() as api:
            for address in (addresses[0], addresses[-1]):
                items = api.get("/api/v1/messages", params={"mailbox": address}).json()["items"]
                if message_id not in [m["message_id"] for m in items]:
                    return False
        return True

    wait_until(delivered, what="delivery to the first and last of 100 recipients")
    # One body for the hundred, one queue row each: proof that stored_state sees storage.
    assert stored_state(server) == (rows_before + 100, blobs_before + 1)


def test_empty_body(server):
    before = stored_state(server)
    with session(server) as smtp:
        smtp.mail("a@remote.example")
        smtp.rcpt("edge@example.test")
        code, reply = smtp.data(b"")
    assert (code, reply[:5]) == (554, b"5.6.0")
    assert stored_state(server) == before
