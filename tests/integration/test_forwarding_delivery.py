"""Forwarding end to end without Ray: mail to a forwarding address enters the real SMTP edge,
is spooled, and the real delivery loop takes it through the loopback DNS server's MX to a
scripted MX on 127.0.0.90, where it arrives with MAIL FROM our SRS address and an ARC set
that verifies (keys fetched from the same DNS server; the sealing key is the forwarding
domain's RSA DKIM key, read from the secret store). The MX's bounce to that SRS address
then comes back through the edge and goes out to the original sender with a null sender."""

from __future__ import annotations

import asyncio
import random
import smtplib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dkim  # type: ignore[import-untyped]

from mairust.auth.arc import verify_arc
from mairust.auth.dns_resolver import CachingResolver
from mairust.auth.results import ArcWord
from mairust.config import OutboundSettings, Settings
from mairust.model.dkim_keys import DkimAlgorithm, DkimKey, DkimKeyState
from mairust.model.ids import new_id
from mairust.model.policy import RouteAction
from mairust.model.scope import TenantScope
from mairust.model.secrets import SecretPurpose
from mairust.outbound.delivery import OutboundDeliveryLoop
from mairust.outbound.dkim_signer import dns_record_text, private_key_pem, public_key_text
from mairust.outbound.forwarding import ArcKeys, forwarder_from_settings
from mairust.outbound.smtp_sender import SmtpDestinationSender
from mairust.outbound.smtp_types import ClientSettings, Timeouts
from mairust.outbound.srs import is_srs_address
from mairust.secrets.master_key import load_keyring
from mairust.secrets.vault import SecretVault
from mairust.smtp.frontend import SmtpFrontEnd
from mairust.spool import Spool
from mairust.storage.factory import migrate, open_stores
from tests.mairust.outbound.test_smtp_sender import port_free_on
from tests.support.dns_server import ZoneServer
from tests.support.scripted_smtp import Script, ScriptedSmtpServer

DOMAIN = "fwd.test"
FORWARDING = f"list@{DOMAIN}"
TARGET = "kim@far.example"
SENDER = "ann@origin.example"
MX_ADDRESS = "127.0.0.90"
MESSAGE = (
    f"From: Ann <{SENDER}>\r\nTo: {FORWARDING}\r\nSubject: minutes\r\n"
    "Message-ID: <minutes-1@origin.example>\r\n\r\nSee you on Monday.\r\n"
).encode()


def send(port: int, sender: str, rcpt: str, message: bytes) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port, local_hostname="mx.origin.example", timeout=30) as c:
        c.ehlo()
        assert c.mail(sender)[0] == 250
        code, text = c.rcpt(rcpt)
        assert code == 250, text
        return c.data(message)


async def test_a_forward_arrives_srs_rewritten_and_arc_sealed_and_its_bounce_comes_back(
    tmp_path: Path,
) -> None:
    settings = Settings(
        data_dir=tmp_path, smtp={"hostname": "mx.fwd.test", "port": 0, "submission_port": 0}
    )
    migrate(settings.storage)
    stores = open_stores(settings.storage)
    keyring = load_keyring(settings)
    vault = SecretVault(stores.metadata, keyring)
    tenant = stores.metadata.create_tenant("acme").id
    stores.metadata.add_domain(DOMAIN, tenant)
    stores.metadata.add_routing_rule(DOMAIN, tenant, "list", RouteAction.FORWARD, TARGET)
    pem = private_key_pem(DkimAlgorithm.RSA2048)
    public = public_key_text(DkimAlgorithm.RSA2048, pem)
    secret = vault.create(TenantScope(tenant), SecretPurpose.DKIM_KEY, pem)
    stores.metadata.add_dkim_key(
        DkimKey(
            new_id(),
            tenant,
            DOMAIN,
            "mr1",
            DkimAlgorithm.RSA2048,
            public,
            secret.id,
            DkimKeyState.ACTIVE,
            datetime.now(UTC),
        )
    )
    zone: dict[str, dict[str, Any]] = {
        "far.example": {"MX": [(10, "mx.far.example")]},
        "origin.example": {"MX": [(10, "mx.far.example")]},
        "mx.far.example": {"A": [MX_ADDRESS]},
        f"mr1._domainkey.{DOMAIN}": {"TXT": [dns_record_text(DkimAlgorithm.RSA2048, public)]},
    }
    port = port_free_on(MX_ADDRESS)
    spool = Spool(stores.metadata, stores.blobs)
    await spool.start()
    forwarder = forwarder_from_settings(
        settings, keyring, ArcKeys(stores.metadata, vault, cache_seconds=0).key_for
    )
    frontend = SmtpFrontEnd(settings, stores.metadata, spool, forwarder=forwarder)
    listeners = await frontend.start()
    edge_port = next(p for name, _, p in listeners if name == "smtp")
    try:
        with (
            ZoneServer(zone) as dns,
            ScriptedSmtpServer(Script(), address=MX_ADDRESS, port=port) as mx,
        ):
            resolver = CachingResolver(["127.0.0.1"], port=dns.port, timeout=2.0)
            client = ClientSettings(helo_name="mx.fwd.test", timeouts=Timeouts(5, 10))
            loop = OutboundDeliveryLoop(
                "forwarding-test",
                stores.metadata,
                stores.blobs,
                SmtpDestinationSender(resolver, client, port=port),
                OutboundSettings(poll_interval=0.05),
                hostname="mx.fwd.test",
                rng=random.Random(3),
            )
            code, _ = await asyncio.to_thread(send, edge_port, SENDER, FORWARDING, MESSAGE)
            assert code == 250
            assert await loop.leased_round() == 1
            await loop.wait_idle()

            [forwarded] = mx.messages
            assert forwarded.rcpt_tos == [TARGET]
            srs_address = forwarded.mail_from
            assert is_srs_address(srs_address) and srs_address.endswith(f"@{DOMAIN}")
            assert srs_address.lower().endswith(f"=origin.example=ann@{DOMAIN}")
            content = forwarded.content
            assert content.startswith(b"ARC-Seal: i=1; cv=none; a=rsa-sha256; d=fwd.test;")
            assert verify_arc(resolver, content).result is ArcWord.PASS

            def txt(name: bytes, timeout: float = 5) -> bytes | None:
                found = resolver.lookup(name.decode().rstrip("."), "TXT")
                return found[0].encode() if found else None

            assert dkim.arc_verify(content, dnsfunc=txt)[0] == b"pass"

            # The far MX bounces it later: the DSN comes to our SRS address, null sender.
            bounce = b"From: MAILER-DAEMON@far.example\r\nSubject: failure\r\n\r\ngone\r\n"
            code, _ = await asyncio.to_thread(send, edge_port, "<>", srs_address, bounce)
            assert code == 250
            assert await loop.leased_round() == 1
            await loop.wait_idle()
            returned = mx.messages[1]
            assert (returned.mail_from, returned.rcpt_tos) == ("<>", [SENDER])  # MAIL FROM:<>
            assert returned.content.endswith(b"gone\r\n")
    finally:
        await frontend.stop(grace_seconds=1.0)
        await spool.stop()
        stores.close()
