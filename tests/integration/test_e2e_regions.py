"""Two regions without Ray, each over its own SQLite metadata, blob directory and search
index (two data directories): mail for a tenant homed in region b that reaches region a's
SMTP edge gets 250 there, is queued outbound to b's relay endpoint, waits (deferred) while
b is down, and when b is back is relayed over STARTTLS with AUTH (a's relay password read
from a's secret store) and lands in the tenant's mailbox in b. a's API answers that
tenant's calls with a 307 to b's API."""

from __future__ import annotations

import asyncio
import random
import smtplib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from mairust.api import create_app
from mairust.config import OutboundSettings, Settings
from mairust.model.outbound import RecipientState
from mairust.model.principal import Role
from mairust.model.scope import TenantScope
from mairust.model.secrets import SecretPurpose
from mairust.outbound.delivery import OutboundDeliveryLoop
from mairust.outbound.relay_auth import RelayLogins, region_logins
from mairust.outbound.smtp_sender import SmtpDestinationSender
from mairust.outbound.smtp_types import ClientSettings, Timeouts
from mairust.passwords import hash_password
from mairust.pipeline.runner import PipelineRunner
from mairust.secrets.master_key import load_keyring
from mairust.secrets.vault import SecretVault
from mairust.smtp.frontend import SmtpFrontEnd
from mairust.spool import Spool
from mairust.storage.factory import migrate, open_stores
from mairust.storage.stores import Stores
from tests.mairust.api.conftest import TOKEN_KEYS, issue_token
from tests.mairust.outbound.test_smtp_sender import port_free_on
from tests.support.dict_resolver import DictResolver
from tests.support.regions import write_regions
from tests.support.tls_certs import self_signed

DOMAIN = "away.test"
USER = f"kim@{DOMAIN}"
RELAY_LOGIN = "relay@ops.b.test"
# b's relay endpoint: a name (its certificate's) on loopback.
RELAY_HOST = "relay.b.test"
MESSAGE = (
    f"From: Ann <ann@origin.example>\r\nTo: {USER}\r\nSubject: across regions\r\n"
    "Message-ID: <regions-1@origin.example>\r\n\r\nRelayed to the home region.\r\n"
).encode()


def send(port: int) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port, local_hostname="mx.origin.example", timeout=30) as c:
        c.ehlo()
        assert c.mail("ann@origin.example")[0] == 250
        code, text = c.rcpt(USER)
        assert code == 250, text
        return c.data(MESSAGE)


def region(data_dir: Path, regions: Path, local: str, port: int, **smtp: object) -> Settings:
    return Settings(
        data_dir=data_dir,
        smtp={"hostname": f"mx.{local}.test", "port": port, "submission_port": 0, **smtp},
        regions={"file": str(regions), "local": local},
        api={"admin_token": "t"},
    )


async def test_mail_for_a_tenant_homed_elsewhere_is_relayed_home_and_waits_while_home_is_down(
    tmp_path: Path,
) -> None:
    b_port = port_free_on("127.0.0.1")
    certificate = self_signed(tmp_path, RELAY_HOST, "127.0.0.1")
    regions = write_regions(tmp_path / "regions.toml", "a", relay_b=f"{RELAY_HOST}:{b_port}")
    a_settings = region(tmp_path / "a", regions, "a", 0)
    b_settings = region(
        tmp_path / "b",
        regions,
        "b",
        b_port,
        tls_cert_file=certificate.cert,
        tls_key_file=certificate.key,
    )
    a, b = open_region(a_settings), open_region(b_settings)
    # b, the home: the tenant, its mailbox, and the login region a relays with.
    b_tenant = b.metadata.create_tenant("away").id
    b.metadata.add_domain(DOMAIN, b_tenant)
    b.metadata.add_domain("ops.b.test", b.metadata.create_tenant("operators").id)
    b.metadata.add_mailbox(USER)
    b.metadata.add_mailbox(RELAY_LOGIN, hash_password("relay-s3cret"))
    # a: the same tenant's directory row, homed in b; the relay password sealed in a.
    a_tenant = a.metadata.create_tenant("away", home_region="b").id
    a.metadata.add_domain(DOMAIN, a_tenant)
    vault = SecretVault(a.metadata, load_keyring(a_settings))
    secret = vault.create_platform(SecretPurpose.RELAY_PASSWORD, b"relay-s3cret")
    write_regions(regions, "a", relay_b=f"{RELAY_HOST}:{b_port}", login_b=(RELAY_LOGIN, secret.id))

    now = [datetime.now(UTC) + timedelta(hours=1)]
    logins = RelayLogins(region_logins(a_settings), vault)
    client = ClientSettings(
        helo_name="mx.a.test",
        ssl_context=certificate.client_context(),
        timeouts=Timeouts(connect=2, command=10),
    )
    loop = OutboundDeliveryLoop(
        "region-a",
        a.metadata,
        a.blobs,
        SmtpDestinationSender(
            DictResolver({RELAY_HOST: {"A": ["127.0.0.1"]}}),
            client,
            credentials_for=logins.credentials_for,
        ),
        OutboundSettings(poll_interval=0.05, retry_initial_seconds=60, retry_jitter=0),
        hostname="mx.a.test",
        clock=lambda: now[0],
        rng=random.Random(5),
    )
    a_spool = Spool(a.metadata, a.blobs)
    await a_spool.start()
    a_edge = SmtpFrontEnd(a_settings, a.metadata, a_spool)
    a_port = next(p for name, _, p in await a_edge.start() if name == "smtp")
    b_spool = Spool(b.metadata, b.blobs)
    b_edge: SmtpFrontEnd | None = None
    try:
        # b is down: a accepts (250, committed) and keeps the message queued.
        code, _ = await asyncio.to_thread(send, a_port)
        assert code == 250
        assert await loop.leased_round() == 1
        await loop.wait_idle()
        [row] = a.metadata.list_outbound()
        assert (row.recipient, row.state) == (USER, RecipientState.DEFERRED)
        assert row.last_reply is not None and row.last_reply.startswith("4"), row
        assert "no address" not in row.last_reply  # b was down, not unknown
        assert a.metadata.list_queue() == []  # nothing for a's own mailboxes

        # b is back: at the next retry the message is relayed and stored in b.
        await b_spool.start()
        b_edge = SmtpFrontEnd(b_settings, b.metadata, b_spool)
        await b_edge.start()
        now[0] += timedelta(minutes=5)
        assert await loop.leased_round() == 1
        await loop.wait_idle()
        [row] = a.metadata.list_outbound()
        assert row.state is RecipientState.DELIVERED, row
        items = b.metadata.lease_batch("b-worker", 10, 60.0)
        assert [item.recipient for item in items] == [USER]
        assert PipelineRunner(b, b_settings.queue).process(items, "b-worker").delivered == 1
        [entry] = b.metadata.list_entries(TenantScope(b_tenant))
        stored = b.blobs.get(entry.blob_key)
        assert stored.endswith(b"Relayed to the home region.\r\n")
        # The hop from a is recorded, and it came over TLS.
        assert b"from mx.a.test" in stored and b"ESMTPSA" in stored

        # a's API sends the tenant's calls to b's.
        app = create_app(a_settings, a, TOKEN_KEYS)
        token = issue_token(app, Role.TENANT_ADMIN, a_tenant)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {token}"},
        ) as api:
            answer = await api.get("/api/v1/domains")
        assert answer.status_code == 307
        assert answer.headers["location"] == "http://127.0.0.1:8002/api/v1/domains"
    finally:
        if b_edge is not None:
            await b_edge.stop(grace_seconds=1.0)
        await a_edge.stop(grace_seconds=1.0)
        await a_spool.stop()
        await b_spool.stop()
        a.close()
        b.close()


def open_region(settings: Settings) -> Stores:
    migrate(settings.storage)
    return open_stores(settings.storage)
