"""SmtpFrontEnd: two listeners on the test's loop, AUTH, group commit, orderly stop."""

from __future__ import annotations

import asyncio
import base64
import re
import smtplib
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mairust.model.directory import Domain, Mailbox
from mairust.model.message import SpoolRecord
from mairust.model.principal import Permission, Principal, Role
from mairust.services.application import Application
from mairust.services.tokens import IssuedToken, TokenRequest
from mairust.smtp.frontend import MailboxAuthenticator
from mairust.storage.stores import Stores
from tests.support.regions import write_regions

if TYPE_CHECKING:
    # Fixture types; conftest is not importable at run time (importlib mode).
    from tests.mairust.smtp.conftest import Mta, RawClientFactory, StartMta


DOMAIN = "example.test"
ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
PASSWORD = "correct horse battery"
SENDER = "sender@remote.test"
QUEUED = re.compile(r"2\.0\.0 Ok: queued as ([0-9A-Z]{26})")
MESSAGE = b"From: sender@remote.test\r\nSubject: hi\r\n\r\nhello\r\n"


async def test_start_binds_both_listeners_on_free_ports(mta: Mta) -> None:
    names = [(name, host) for name, host, _ in mta.listeners]
    ports = [port for _, _, port in mta.listeners]
    assert names == [("smtp", "127.0.0.1"), ("submission", "127.0.0.1")]
    assert all(port > 0 for port in ports) and ports[0] != ports[1]


async def test_a_group_of_front_ends_shares_the_ports(start_mta: StartMta) -> None:
    first = await start_mta(frontends_per_node=2)
    ports = {name: port for name, _, port in first.listeners}
    second = await start_mta(
        frontends_per_node=2, port=ports["smtp"], submission_port=ports["submission"]
    )
    assert {name: port for name, _, port in second.listeners} == ports
    # Alone (the default), a second front-end on a taken port fails to start.
    with pytest.raises(OSError):
        await start_mta(port=ports["smtp"], submission_port=ports["submission"])


async def test_greeting_and_ehlo_advertise_what_we_support(
    mta: Mta, raw_client: RawClientFactory
) -> None:
    def run() -> tuple[str, str]:
        client = raw_client(mta.port)
        return client.greeting, client.send("EHLO client.test")

    greeting, ehlo = await asyncio.to_thread(run)
    assert greeting == "220 mx.example.test MaiRust ESMTP"
    lines = ehlo.split("\r\n")
    assert lines[0] == "250-mx.example.test"
    keywords = {line[4:] for line in lines[1:]}
    assert f"SIZE {mta.settings.smtp.max_message_size}" in keywords
    assert {"8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "AUTH LOGIN PLAIN"} <= keywords
    assert lines[-1] == "250 HELP"


async def test_inbound_port_does_not_require_auth(mta: Mta) -> None:
    def run() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", mta.port, timeout=30) as client:
            client.ehlo("client.test")
            client.mail(SENDER)
            client.rcpt(ALICE)
            return client.data(MESSAGE)

    code, _ = await asyncio.to_thread(run)
    assert code == 250


async def test_submission_requires_auth(mta: Mta, raw_client: RawClientFactory) -> None:
    def run() -> list[str]:
        client = raw_client(mta.submission_port)
        return client.dialog(["EHLO client.test", f"MAIL FROM:<{ALICE}>", f"RCPT TO:<{BOB}>"])

    replies = await asyncio.to_thread(run)
    assert replies[1] == "530 5.7.0 Authentication required"
    assert replies[2] == "530 5.7.0 Authentication required"
    assert mta.queued() == []


async def test_submission_with_good_password_delivers(mta: Mta) -> None:
    def run() -> tuple[tuple[int, bytes], tuple[int, bytes]]:
        with smtplib.SMTP("127.0.0.1", mta.submission_port, timeout=30) as client:
            client.ehlo("client.test")
            auth = client.login("Alice@Example.TEST", PASSWORD)
            client.mail(ALICE)
            client.rcpt(BOB)
            return auth, client.data(MESSAGE)

    (auth_code, auth_text), (code, text) = await asyncio.to_thread(run)
    assert (auth_code, auth_text) == (235, b"2.7.0 Authentication successful")
    assert code == 250
    match = QUEUED.fullmatch(text.decode())
    assert match
    assert mta.recipients_of(match.group(1)) == [BOB]
    assert b" with ESMTPA id " in mta.body_of(match.group(1))


@pytest.mark.parametrize(
    ("login", "password"),
    [(ALICE, "wrong"), (BOB, PASSWORD), ("nobody@example.test", PASSWORD), ("alice", PASSWORD)],
)
async def test_submission_with_bad_credentials_is_refused(
    mta: Mta, login: str, password: str
) -> None:
    def run() -> tuple[int, bytes | str]:
        with smtplib.SMTP("127.0.0.1", mta.submission_port, timeout=30) as client:
            client.ehlo("client.test")
            try:
                client.login(login, password)
            except smtplib.SMTPAuthenticationError as error:
                return error.smtp_code, error.smtp_error
            raise AssertionError("login unexpectedly succeeded")

    code, text = await asyncio.to_thread(run)
    assert (code, text) == (535, b"5.7.8 Authentication credentials invalid")


class GatedDirectory:
    """The real directory, but mailbox lookups block their thread until the gate opens."""

    def __init__(self, real: object) -> None:
        self._real = real
        self.entered = threading.Event()
        self.gate = threading.Event()

    def get_domain(self, name: str) -> Domain | None:
        return self._real.get_domain(name)  # type: ignore[attr-defined]

    def find_mailbox(self, address: str) -> Mailbox | None:
        self.entered.set()
        assert self.gate.wait(30)
        return self._real.find_mailbox(address)  # type: ignore[attr-defined]


async def test_password_checks_run_off_the_event_loop(
    start_mta: StartMta, stores: Stores, raw_client: RawClientFactory
) -> None:
    directory = GatedDirectory(stores.metadata)
    mta = await start_mta(directory=directory)

    def authenticate() -> str:
        client = raw_client(mta.submission_port)
        client.send("EHLO client.test")
        token = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode()).decode()
        return client.send(f"AUTH PLAIN {token}")

    def noop_on_another_session() -> str:
        client = raw_client(mta.port)
        client.sock.settimeout(5)  # were the loop blocked, this would time out
        return client.send("NOOP")

    auth = asyncio.ensure_future(asyncio.to_thread(authenticate))
    assert await asyncio.to_thread(directory.entered.wait, 30)
    try:
        assert await asyncio.to_thread(noop_on_another_session) == "250 2.0.0 OK"
        assert not auth.done()
    finally:
        directory.gate.set()
    assert (await auth).startswith("235 2.7.0")


async def test_mailbox_authenticator(stores: Stores) -> None:
    check = MailboxAuthenticator(stores.metadata)
    assert await check("ALICE@example.test", PASSWORD) == ALICE
    assert await check(ALICE, PASSWORD + "x") is None
    assert await check(BOB, "") is None  # no password set: no AUTH for that mailbox
    assert await check("not an address", PASSWORD) is None


class SlowCommits:
    """The real metadata store; each group commit takes a while, so arrivals pile up."""

    def __init__(self, real: object, delay: float) -> None:
        self._real = real
        self._delay = delay
        self.batch_sizes: list[int] = []

    def commit_messages(self, records: Sequence[SpoolRecord]) -> None:
        time.sleep(self._delay)
        self._real.commit_messages(records)  # type: ignore[attr-defined]
        self.batch_sizes.append(len(records))

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)


async def test_concurrent_senders_share_group_commits(start_mta: StartMta, stores: Stores) -> None:
    metadata = SlowCommits(stores.metadata, delay=0.05)
    mta = await start_mta(metadata=metadata)
    senders = 20
    ready = threading.Barrier(senders, timeout=30)

    def send(n: int) -> str:
        with smtplib.SMTP("127.0.0.1", mta.port, timeout=60) as client:
            client.ehlo(f"client{n}.test")
            client.mail(f"sender{n}@remote.test")
            client.rcpt(ALICE if n % 2 else BOB)
            ready.wait()  # every DATA ends at about the same moment
            code, text = client.data(MESSAGE + f"n={n}\r\n".encode())
            assert code == 250, text
            return text.decode()

    # Own threads: the loop's default executor is small and the spool needs it meanwhile.
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=senders) as clients:
        replies = await asyncio.gather(
            *(loop.run_in_executor(clients, send, n) for n in range(senders))
        )

    ids = [QUEUED.fullmatch(reply).group(1) for reply in replies]  # type: ignore[union-attr]
    assert len(set(ids)) == senders
    assert {item.message.id for item in mta.queued()} == set(ids)
    assert sum(metadata.batch_sizes) == senders
    assert max(metadata.batch_sizes) > 1
    assert mta.spool.messages_committed == senders
    assert mta.spool.batches_committed == len(metadata.batch_sizes) < senders


async def test_stop_refuses_new_connections_and_says_421_to_idle_ones(
    start_mta: StartMta, raw_client: RawClientFactory
) -> None:
    mta = await start_mta()
    idle = await asyncio.to_thread(raw_client, mta.port)
    await asyncio.to_thread(idle.send, "EHLO client.test")

    await mta.frontend.stop(grace_seconds=5.0)

    assert await asyncio.to_thread(idle.reply) == "421 4.3.2 Service shutting down"
    with pytest.raises(ConnectionRefusedError):
        await asyncio.to_thread(raw_client, mta.port)


async def test_stop_lets_a_transaction_in_flight_finish(
    start_mta: StartMta, raw_client: RawClientFactory
) -> None:
    mta = await start_mta()
    client = await asyncio.to_thread(raw_client, mta.port)
    await asyncio.to_thread(client.dialog, ["EHLO client.test", f"MAIL FROM:<{SENDER}>"])

    stopping = asyncio.ensure_future(mta.frontend.stop(grace_seconds=10.0))
    await asyncio.sleep(0.2)
    assert not stopping.done()  # waiting for our transaction
    replies = await asyncio.to_thread(
        client.dialog, [f"RCPT TO:<{ALICE}>", "DATA", MESSAGE + b".\r\n"]
    )
    assert replies[2].startswith("250 2.0.0 Ok: queued as ")
    await asyncio.wait_for(stopping, 5)
    assert await asyncio.to_thread(client.reply) == "421 4.3.2 Service shutting down"
    assert len(mta.queued()) == 1


async def test_stop_gives_up_on_a_transaction_after_the_grace_period(
    start_mta: StartMta, raw_client: RawClientFactory
) -> None:
    mta = await start_mta()
    client = await asyncio.to_thread(raw_client, mta.port)
    await asyncio.to_thread(client.dialog, ["EHLO client.test", f"MAIL FROM:<{SENDER}>"])

    began = time.monotonic()
    await mta.frontend.stop(grace_seconds=0.3)

    assert 0.25 < time.monotonic() - began < 3
    assert await asyncio.to_thread(client.reply) == "421 4.3.2 Service shutting down"


# -- SMTP AUTH with an API token in place of the password -------------------------------

TOKEN_KEYS = (b"smtp-test-token-digest-key-32by!",)
ADMIN = Principal.platform("test", "127.0.0.1")


def _token(stores: Stores, address: str, *permissions: Permission) -> IssuedToken:
    """A real API token of the mailbox ``address`` (issued as the platform admin would)."""
    application = Application.over(stores, TOKEN_KEYS)
    mailbox = stores.metadata.find_mailbox(address)
    assert mailbox is not None
    request = TokenRequest(
        name="smtp",
        permissions=frozenset(permissions),
        role=Role.USER,
        tenant_id=mailbox.tenant_id,
        mailbox_id=mailbox.id,
    )
    return application.tokens.issue(ADMIN, request)


def _login(port: int, login: str, secret: str) -> tuple[int, bytes | str]:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo("client.test")
        try:
            code, text = client.login(login, secret)
        except smtplib.SMTPAuthenticationError as error:
            return error.smtp_code, error.smtp_error
        client.mail(login)
        client.rcpt(BOB)
        client.data(MESSAGE)
        return code, text


async def test_submission_takes_a_send_token_of_the_user(
    start_mta: StartMta, stores: Stores
) -> None:
    tokens = Application.over(stores, TOKEN_KEYS).tokens
    mta = await start_mta(token_check=tokens.authenticate_sender)
    secret = _token(stores, ALICE, Permission.SEND).secret
    assert await asyncio.to_thread(_login, mta.submission_port, ALICE, secret) == (
        235,
        b"2.7.0 Authentication successful",
    )
    assert len(mta.queued()) == 1
    # The password still works beside it.
    assert (await asyncio.to_thread(_login, mta.submission_port, ALICE, PASSWORD))[0] == 235
    assert len(mta.queued()) == 2


async def test_submission_refuses_a_token_without_send_of_another_user_or_revoked(
    start_mta: StartMta, stores: Stores
) -> None:
    tokens = Application.over(stores, TOKEN_KEYS).tokens
    mta = await start_mta(token_check=tokens.authenticate_sender)
    refused = (535, b"5.7.8 Authentication credentials invalid")
    read_only = _token(stores, ALICE, Permission.READ, Permission.WRITE).secret
    bobs = _token(stores, BOB, Permission.SEND).secret
    for secret in (read_only, bobs, "mrt_" + "x" * 43):
        assert await asyncio.to_thread(_login, mta.submission_port, ALICE, secret) == refused
    # Bob's token is good for Bob (a positive twin of the refusal above).
    assert (await asyncio.to_thread(_login, mta.submission_port, BOB, bobs))[0] == 235
    alices = _token(stores, ALICE, Permission.SEND)
    assert (await asyncio.to_thread(_login, mta.submission_port, ALICE, alices.secret))[0] == 235
    tokens.revoke(ADMIN, alices.token.id)
    assert await asyncio.to_thread(_login, mta.submission_port, ALICE, alices.secret) == refused
    assert len(mta.queued()) == 2


async def test_the_token_check_runs_off_the_event_loop(
    start_mta: StartMta, raw_client: RawClientFactory
) -> None:
    entered, gate = threading.Event(), threading.Event()

    def slow_check(address: str, secret: str) -> bool:
        entered.set()
        gate.wait(30)
        return True

    mta = await start_mta(token_check=slow_check)

    def authenticate() -> str:
        client = raw_client(mta.submission_port)
        client.send("EHLO client.test")
        plain = base64.b64encode(f"\0{ALICE}\0mrt_whatever".encode()).decode()
        return client.send(f"AUTH PLAIN {plain}")

    def noop_on_another_session() -> str:
        client = raw_client(mta.port)
        client.sock.settimeout(5)  # were the loop blocked, this would time out
        return client.send("NOOP")

    auth = asyncio.ensure_future(asyncio.to_thread(authenticate))
    assert await asyncio.to_thread(entered.wait, 30)
    try:
        assert await asyncio.to_thread(noop_on_another_session) == "250 2.0.0 OK"
        assert not auth.done()
    finally:
        gate.set()
    assert (await auth).startswith("235 2.7.0")


async def test_auth_for_a_tenant_homed_elsewhere_says_where_to_submit(
    start_mta: StartMta, stores: Stores, tmp_path: Path
) -> None:
    regions = write_regions(tmp_path / "regions.toml", "a", submission_b="smtp.b.test:587")
    mta = await start_mta(regions={"file": str(regions)})
    away = stores.metadata.create_tenant("away", home_region="b")
    stores.metadata.add_domain("away.test", away.id)

    def log_in(login: str, password: str) -> tuple[int, str]:
        with smtplib.SMTP("127.0.0.1", mta.submission_port, timeout=30) as client:
            client.ehlo("client.test")
            try:
                client.login(login, password)
            except smtplib.SMTPAuthenticationError as refused:
                return refused.smtp_code, reply_text(refused)
            return 235, ""

    # Whatever the password: its accounts are not here, and the reply says where they are.
    refused = await asyncio.to_thread(log_in, "kim@away.test", "anything")
    assert refused == (
        535,
        "5.7.0 Accounts of away.test are not kept in this region: "
        "submit in its home region b at smtp.b.test:587",
    )
    # This region's own accounts log in as ever.
    assert (await asyncio.to_thread(log_in, ALICE, PASSWORD))[0] == 235
    assert (await asyncio.to_thread(log_in, ALICE, "wrong"))[0] == 535


def reply_text(error: smtplib.SMTPResponseException) -> str:
    """The reply's text after the code (smtplib keeps the server's bytes)."""
    text = error.smtp_error
    return text.decode() if isinstance(text, bytes) else text
