"""Scenario: inbound authentication enforced over SMTP against `mairust up`, with the
internet's DNS played by a real DNS server on loopback serving test zones.

A good, DKIM-signed message is delivered with spf=pass dkim=pass dmarc=pass in its
Authentication-Results (a forged one with our authserv-id is removed); a p=reject spoof
is refused with 550 5.7.1; a DNS timeout gives 451 4.4.3; a p=quarantine failure lands
in Junk, tagged, and `dmarc:fail` finds it.
"""

from __future__ import annotations

import base64
import re
import smtplib
from collections.abc import Iterator
from typing import Any

import dkim  # type: ignore[import-untyped]
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.dns_server import ZoneServer
from tests.support.mairust_server import MairustServer, wait_for

AUTHSERV_ID = "mx.mairust.test"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PRIVATE_PEM = KEY.private_bytes(
    serialization.Encoding.PEM,
    serialization.PrivateFormat.TraditionalOpenSSL,
    serialization.NoEncryption(),
)
PUBLIC_DER = KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
)
ZONE = {
    "good.example": {"TXT": ["v=spf1 ip4:127.0.0.1 -all"], "A": ["127.0.0.1"]},
    "sel._domainkey.good.example": {
        "TXT": ["v=DKIM1; k=rsa; p=" + base64.b64encode(PUBLIC_DER).decode()]
    },
    "_dmarc.good.example": {"TXT": ["v=DMARC1; p=reject"]},
    "bank.example": {"TXT": ["v=spf1 ip4:192.0.2.10 -all"]},
    "_dmarc.bank.example": {"TXT": ["v=DMARC1; p=reject"]},
    "shop.example": {"TXT": ["v=spf1 ip4:192.0.2.20 -all"]},
    "_dmarc.shop.example": {"TXT": ["v=DMARC1; p=quarantine"]},
    "attacker.example": {"TXT": ["v=spf1 ip4:127.0.0.1 -all"]},
    "slow.example": {"A": ["192.0.2.30"]},
}


@pytest.fixture(scope="module")
def zone() -> Iterator[ZoneServer]:
    with ZoneServer(ZONE, timeout_names=["slow.example"]) as server:
        yield server


@pytest.fixture(scope="module")
def server(zone: ZoneServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MairustServer]:
    base = tmp_path_factory.mktemp("auth")
    config = base / "mairust.toml"
    config.write_text(
        f'[auth]\nauthserv_id = "{AUTHSERV_ID}"\ntrusted_networks = []\ndmarc = "enforce"\n'
        f'[dns]\nnameservers = ["127.0.0.1"]\nport = {zone.port}\ntimeout = 1.0\n'
    )
    mairust = MairustServer(data_dir=base / "data", config=config)
    mairust.start()
    mairust.add_user("alice@example.test")
    yield mairust
    mairust.stop()


def signed(message: bytes) -> bytes:
    signature = dkim.sign(
        message, b"sel", b"good.example", PRIVATE_PEM, include_headers=[b"from", b"to", b"subject"]
    )
    return signature + message


def send(server: MairustServer, mail_from: str, data: bytes) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60) as smtp:
        smtp.ehlo("client.good.example")
        code, reply = smtp.mail(mail_from)
        if code != 250:
            return code, reply
        code, reply = smtp.rcpt("alice@example.test")
        if code != 250:
            return code, reply
        return smtp.data(data)


def entry_for(server: MairustServer, message_id: str) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        with server.api() as api:
            items = api.get(
                "/api/v1/messages", params={"mailbox": "alice@example.test", "limit": 500}
            ).json()["items"]
        return next((m for m in items if m["message_id"] == message_id), None)

    found = wait_for(find, what=f"{message_id} delivered")
    assert found is not None
    return found


def stored_state(server: MairustServer) -> tuple[int, int]:
    """(queue rows, blobs in the server's blob store)."""
    with server.api() as api:
        response = api.get("/api/v1/queue/stats")
    assert response.status_code == 200, response.text
    return sum(response.json()["counts"].values()), len(server.blob_names())


def test_good_message_passes_everything(server: MairustServer) -> None:
    before = stored_state(server)
    forged = f"Authentication-Results: {AUTHSERV_ID}; dmarc=pass header.from=bank.example\r\n"
    body = (
        b"From: Good Sender <news@good.example>\r\nTo: alice@example.test\r\n"
        b"Subject: signed newsletter\r\n\r\nAll signed and aligned.\r\n"
    )
    code, reply = send(server, "news@good.example", forged.encode() + signed(body))
    assert code == 250, reply
    message_id = reply.decode().rsplit(" ", 1)[1]
    entry = entry_for(server, message_id)
    with server.api() as api:
        detail = api.get(f"/api/v1/messages/{entry['id']}").json()
        raw = api.get(f"/api/v1/messages/{entry['id']}/raw").content
    assert detail["auth"]["spf"]["result"] == "pass"
    assert [d["result"] for d in detail["auth"]["dkim"]] == ["pass"]
    assert detail["auth"]["dmarc"]["result"] == "pass"
    results = [
        v
        for n, v in ((h["name"], h["value"]) for h in detail["headers"])
        if n.lower() == "authentication-results"
    ]
    assert len(results) == 1, results  # ours; the forged one is gone
    assert results[0].startswith(AUTHSERV_ID)
    for word in ("spf=pass", "dkim=pass", "dmarc=pass"):
        assert word in results[0]
    assert b"header.from=bank.example" not in raw
    assert entry["folder"] == "INBOX"
    # The counts the refusal tests compare do move when mail is taken.
    assert stored_state(server) == (before[0] + 1, before[1] + 1)


def test_p_reject_spoof_is_refused(server: MairustServer) -> None:
    spoof = (
        b"From: The Bank <ceo@bank.example>\r\nTo: alice@example.test\r\n"
        b"Subject: urgent wire transfer\r\n\r\nPay now.\r\n"
    )
    before = stored_state(server)
    code, reply = send(server, "mallory@attacker.example", spoof)
    assert (code, reply[:5]) == (550, b"5.7.1"), reply
    # Refused before the spool: no queue row, no blob. (An empty search right after the
    # reply would prove nothing: indexing comes later even for mail that was taken.)
    assert stored_state(server) == before


def test_dns_timeout_is_a_temporary_failure(server: MairustServer) -> None:
    before = stored_state(server)
    code, reply = send(
        server,
        "someone@slow.example",
        b"From: someone@slow.example\r\nSubject: slow\r\n\r\nhello\r\n",
    )
    assert (code, reply[:5]) == (451, b"4.4.3"), reply
    assert stored_state(server) == before


def test_p_quarantine_failure_goes_to_junk(server: MairustServer) -> None:
    message = (
        b"From: Shop <offers@shop.example>\r\nTo: alice@example.test\r\n"
        b"Subject: quarantined offer\r\n\r\nCheap stuff.\r\n"
    )
    code, reply = send(server, "offers@attacker.example", message)
    assert code == 250, reply
    entry = entry_for(server, reply.decode().rsplit(" ", 1)[1])
    assert entry["folder"] == "Junk"
    assert "dmarc-quarantine" in entry["tags"]
    with server.api() as api:
        hits = wait_for(
            lambda: api.get("/api/v1/search", params={"q": "dmarc:fail"}).json()["items"],
            what="dmarc:fail search",
        )
        passing = api.get("/api/v1/search", params={"q": "dmarc:pass"}).json()["items"]
    assert [h["id"] for h in hits] == [entry["id"]]
    assert entry["id"] not in [h["id"] for h in passing]
    assert re.fullmatch(r"[0-9A-Z]{26}", entry["id"])
