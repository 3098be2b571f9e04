"""The delivery loop over a real metadata store and blob store with relay rules: an
``lmtp:`` rule's mail lands in a private Dovecot's Maildir (the unknown user bounces
alone, with a DSN), and an SMTP relay that wants AUTH gets the password sealed in the
secret store, named by ``[relay] auth`` (a wrong one defers, never bounces)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mairust.config import OutboundSettings, RelayLogin, Settings
from mairust.errors import InvalidInput
from mairust.model.ids import new_id
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.model.outbound import RecipientState, RemoteRecipient
from mairust.model.policy import RouteAction, normalize_relay_host
from mairust.model.secrets import SecretPurpose
from mairust.outbound.bounce_class import HARD_CLASSES
from mairust.outbound.bounce_notices import DsnNotices, classify_remote_reply
from mairust.outbound.delivery import OutboundDeliveryLoop
from mairust.outbound.relay_auth import RelayLogins, region_logins
from mairust.outbound.smtp_sender import SmtpDestinationSender
from mairust.outbound.smtp_types import ClientSettings, Timeouts
from mairust.routing.router import Outbound, route_recipient
from mairust.secrets.keyring import Keyring
from mairust.secrets.vault import SecretVault
from mairust.storage.file_blobs import FileBlobStore
from mairust.storage.sql_metadata import SqlMetadataStore
from tests.mairust.outbound.test_smtp_sender import port_free_on
from tests.support.dict_resolver import DictResolver
from tests.support.dovecot_lmtp import DovecotLmtp
from tests.support.regions import write_regions
from tests.support.scripted_smtp import Script, ScriptedSmtpServer
from tests.support.sqlite_template import upgrade_to_head_for_test
from tests.support.tls_certs import self_signed

LMTP_ADDRESS = "127.0.0.102"
RELAY_ADDRESS = "127.0.0.103"
RELAY = "smtp.relay.test"
SCHEDULE = OutboundSettings(retry_initial_seconds=600, retry_jitter=0, poll_interval=0.05)
KEY = bytes(range(32))


@dataclass
class World:
    store: SqlMetadataStore
    blobs: FileBlobStore
    vault: SecretVault
    tenant_id: str
    # The spool's commit stamps rows with the wall clock; the loop's own clock is an hour
    # ahead of it from the world's making (not the module's import), so what was just
    # committed is due however late under CI the test runs.
    now: datetime = field(
        default_factory=lambda: datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    )

    def loop(self, sender: SmtpDestinationSender) -> OutboundDeliveryLoop:
        return OutboundDeliveryLoop(
            "node-a",
            self.store,
            self.blobs,
            sender,
            SCHEDULE,
            hostname="out.ours.test",
            notices=DsnNotices("out.ours.test"),
            classify=classify_remote_reply,
            is_local=lambda address: address.endswith("@ours.test"),
            hard_classes=frozenset(HARD_CLASSES),
            clock=lambda: self.now,
            rng=random.Random(7),
        )

    def rule(self, domain: str, target: str) -> None:
        """A relay rule for every address of ``domain``, as the policy service adds it."""
        self.store.add_domain(domain, self.tenant_id)
        self.store.add_routing_rule(
            domain, self.tenant_id, "*", RouteAction.RELAY, normalize_relay_host(target)
        )

    def receive(self, body: bytes, *recipients: str) -> str:
        """What the SMTP edge does for relay-rule recipients: route, then commit."""
        remote = []
        for recipient in recipients:
            route = route_recipient(self.store, recipient)
            assert isinstance(route, Outbound) and route.relay_host is not None
            remote.append(RemoteRecipient(recipient, self.tenant_id, relay_host=route.relay_host))
        blob = self.blobs.put(body)
        ref = MessageRef(new_id(), blob.size, blob.sha256, blob.key)
        envelope = Envelope("ann@ours.test", recipients, self.now)
        self.store.commit_messages([SpoolRecord(ref, envelope, remote=tuple(remote))])
        return ref.id

    def states(self, message_id: str) -> dict[str, RecipientState]:
        return {r.recipient: r.state for r in self.store.list_outbound(message_id=message_id)}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    url = f"sqlite:///{tmp_path / 'metadata.db'}"
    upgrade_to_head_for_test(url)
    store = SqlMetadataStore(url)
    tenant = store.create_tenant("relays")
    vault = SecretVault(store, Keyring.from_bytes(KEY))
    yield World(store, FileBlobStore(tmp_path / "blobs"), vault, tenant.id)
    store.close()


async def test_an_lmtp_rule_delivers_into_the_mail_store(world: World) -> None:
    body = b"From: ann@ours.test\r\nSubject: to the store\r\n\r\n.dot first\r\nend\r\n"
    with DovecotLmtp(LMTP_ADDRESS, port_free_on(LMTP_ADDRESS), ("kim@store.test",)) as dovecot:
        world.rule("store.test", f"lmtp:{dovecot.socket_path}")
        message_id = world.receive(body, "kim@store.test", "nobody@store.test")
        client = ClientSettings(helo_name="out.ours.test", timeouts=Timeouts(connect=5))
        loop = world.loop(SmtpDestinationSender(DictResolver({}), client))
        await loop.leased_round()
        await loop.wait_idle()
        [stored] = dovecot.delivered("kim@store.test")
    assert stored.endswith(body.replace(b"\r\n", b"\n"))
    assert world.states(message_id) == {
        "kim@store.test": RecipientState.DELIVERED,
        "nobody@store.test": RecipientState.BOUNCED,
    }
    # The unknown user's bounce: one DSN, to the local sender.
    [dsn_row] = world.store.list_queue()
    assert dsn_row.recipient == "ann@ours.test"
    assert b"nobody@store.test" in world.blobs.get(dsn_row.message.blob_key)


async def test_a_relay_rule_logs_in_with_the_sealed_password(world: World, tmp_path: Path) -> None:
    certificate = self_signed(tmp_path, RELAY, RELAY_ADDRESS)
    port = port_free_on(RELAY_ADDRESS)
    good = world.vault.create_platform(SecretPurpose.RELAY_PASSWORD, b"s3cret")
    wrong = world.vault.create_platform(SecretPurpose.RELAY_PASSWORD, b"not it")
    resolver = DictResolver({RELAY: {"A": [RELAY_ADDRESS]}})
    client = ClientSettings(
        helo_name="out.ours.test",
        ssl_context=certificate.client_context(),
        timeouts=Timeouts(connect=2, command=5),
    )
    world.rule("far.test", f"SMTP.Relay.test:{port}")
    with ScriptedSmtpServer(
        Script(),
        address=RELAY_ADDRESS,
        port=port,
        tls_context=certificate.server_context(),
        logins={"out": "s3cret"},
    ) as server:
        # The configured key is normalised like the rule's target.
        logins = RelayLogins(
            {f"smtp.relay.TEST:{port}": RelayLogin(username="out", password_secret=wrong.id)},
            world.vault,
        )
        sender = SmtpDestinationSender(resolver, client, credentials_for=logins.credentials_for)
        first = world.receive(b"Subject: one\r\n\r\nhi\r\n", "joe@far.test")
        loop = world.loop(sender)
        await loop.leased_round()
        await loop.wait_idle()
        assert world.states(first) == {"joe@far.test": RecipientState.DEFERRED}
        [attempt] = world.store.outbound_attempts(first)
        assert "4.7.8" in attempt.reply and "535" in attempt.reply

        logins = RelayLogins(
            {f"smtp.relay.test:{port}": RelayLogin(username="out", password_secret=good.id)},
            world.vault,
        )
        sender = SmtpDestinationSender(resolver, client, credentials_for=logins.credentials_for)
        second = world.receive(b"Subject: two\r\n\r\nhi\r\n", "kim@far.test")
        loop = world.loop(sender)
        await loop.leased_round()
        await loop.wait_idle()
        assert world.states(second) == {"kim@far.test": RecipientState.DELIVERED}
        assert [log.logins for log in server.sessions] == [[("out", False)], [("out", True)]]
        assert all(log.auth == [("PLAIN", True)] for log in server.sessions)


async def test_a_relay_login_checks_the_certificate_against_the_relay_context(
    world: World, tmp_path: Path
) -> None:
    """With no context of the settings' own, a session that logs in verifies the relay's
    certificate with ``relay_context`` (``[outbound_tls] ca_file``), else the system's CAs."""
    certificate = self_signed(tmp_path, RELAY, RELAY_ADDRESS)
    port = port_free_on(RELAY_ADDRESS)
    secret = world.vault.create_platform(SecretPurpose.RELAY_PASSWORD, b"s3cret")
    resolver = DictResolver({RELAY: {"A": [RELAY_ADDRESS]}})
    client = ClientSettings(helo_name="out.ours.test", timeouts=Timeouts(connect=2, command=5))
    logins = RelayLogins(
        {f"{RELAY}:{port}": RelayLogin(username="out", password_secret=secret.id)}, world.vault
    )
    world.rule("far.test", f"{RELAY}:{port}")
    with ScriptedSmtpServer(
        Script(),
        address=RELAY_ADDRESS,
        port=port,
        tls_context=certificate.server_context(),
        logins={"out": "s3cret"},
    ) as server:
        outcomes = []
        for relay_context in (None, certificate.client_context()):
            sender = SmtpDestinationSender(
                resolver,
                client,
                credentials_for=logins.credentials_for,
                relay_context=relay_context,
            )
            sent = world.receive(b"Subject: ca\r\n\r\nhi\r\n", "joe@far.test")
            loop = world.loop(sender)
            await loop.leased_round()
            await loop.wait_idle()
            outcomes.append(world.states(sent)["joe@far.test"])
        assert outcomes == [RecipientState.DEFERRED, RecipientState.DELIVERED]
        # The unverified certificate heard no credentials: one login, over verified TLS.
        assert [log.logins for log in server.sessions if log.logins] == [[("out", True)]]


def test_relay_logins_refuse_what_cannot_work(world: World) -> None:
    login = RelayLogin(username="out", password_secret="nope")
    with pytest.raises(InvalidInput):
        RelayLogins({"not a host": login}, world.vault)
    with pytest.raises(InvalidInput):
        RelayLogins({"lmtp:/run/lmtp": login}, world.vault)
    with pytest.raises(InvalidInput):
        RelayLogins({"relay.test:587": login}, None)
    assert RelayLogins({}, None).credentials_for("relay.test:587") is None


def test_the_other_regions_relay_logins_come_from_the_regions_file(tmp_path: Path) -> None:
    assert region_logins(Settings(data_dir=tmp_path)) == {}
    regions = write_regions(tmp_path / "regions.toml", "a", login_b=("relay@ops.b", "sec_b"))
    settings = Settings(data_dir=tmp_path, regions={"file": str(regions)})
    # Only b's: a is this region, nobody relays to it from here.
    assert region_logins(settings) == {
        "127.0.0.1:2526": RelayLogin(username="relay@ops.b", password_secret="sec_b")
    }
