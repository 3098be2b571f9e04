"""MAIL FROM after AUTH: only addresses of the client's own tenant's domains (553 5.7.1)."""

from __future__ import annotations

import asyncio
import smtplib
from pathlib import Path
from typing import TYPE_CHECKING

from mairust.errors import StorageUnavailable
from mairust.routing.senders import SenderRefusal, login_sender_refusal
from mairust.storage.stores import Stores
from tests.support.regions import write_regions

if TYPE_CHECKING:
    # Fixture types; conftest is not importable at run time (importlib mode).
    from tests.mairust.smtp.conftest import Mta, RawClientFactory, StartMta

DOMAIN = "example.test"
ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
PASSWORD = "correct horse battery"
NOT_OURS = "553 5.7.1 Sender address rejected: not a domain of your account"
MESSAGE = b"Subject: hi\r\n\r\nhello\r\n"


def add_other_tenant(stores: Stores) -> None:
    globex = stores.metadata.create_tenant("globex")
    stores.metadata.add_domain("other.test", globex.id)
    stores.metadata.add_mailbox("carol@other.test")


def mail_after_auth(port: int, senders: list[str]) -> list[str]:
    """MAIL FROM each sender (RSET between) after AUTH as Alice: the replies."""
    replies = []
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo("client.test")
        client.login(ALICE, PASSWORD)
        for sender in senders:
            code, text = client.docmd("MAIL", f"FROM:<{sender}>")
            replies.append(f"{code} {text.decode()}")
            client.rset()
    return replies


async def test_submission_refuses_senders_outside_the_tenants_domains(
    mta: Mta, stores: Stores
) -> None:
    add_other_tenant(stores)
    senders = [ALICE, f"noreply@{DOMAIN}", "carol@other.test", "x@nowhere.test", ""]
    replies = await asyncio.to_thread(mail_after_auth, mta.submission_port, senders)
    assert replies == [
        "250 2.1.0 Sender ok",
        "250 2.1.0 Sender ok",  # the tenant's domain: any address of it
        NOT_OURS,  # another tenant's domain
        NOT_OURS,  # a domain that is nobody's here: the same words
        "553 5.7.1 Sender address rejected: <> is not allowed after AUTH",
    ]
    # The one rule the send API applies, in the same words for each address.
    expected = [login_sender_refusal(stores.metadata, ALICE, s) for s in senders]
    assert expected == [None, None, *[SenderRefusal.NOT_OWNED] * 2, SenderRefusal.NULL_SENDER]
    assert mta.queued() == []


async def test_the_rule_holds_after_auth_on_the_inbound_port_too(mta: Mta, stores: Stores) -> None:
    add_other_tenant(stores)
    replies = await asyncio.to_thread(mail_after_auth, mta.port, ["carol@other.test"])
    assert replies == [NOT_OURS]


async def test_a_peer_region_delivers_to_local_domains_from_any_sender(
    start_mta: StartMta, stores: Stores, tmp_path: Path
) -> None:
    # Alice's login is the one the other regions relay to this region ("a") with.
    regions = write_regions(tmp_path / "regions.toml", "b", login_b=(ALICE, "sec_x"))
    mta = await start_mta(regions={"file": str(regions), "local": "b"})
    add_other_tenant(stores)

    def relay() -> list[str]:
        with smtplib.SMTP("127.0.0.1", mta.port, timeout=30) as client:
            client.ehlo("mx.a.test")
            client.login(ALICE, PASSWORD)
            replies = [client.docmd("MAIL", "FROM:<ann@origin.example>")]
            replies.append(client.docmd("RCPT", "TO:<someone@nowhere.test>"))
            replies.append(client.docmd("RCPT", f"TO:<{BOB}>"))
            replies.append(client.data(MESSAGE))
            return [f"{code} {text.decode()[:20]}" for code, text in replies]

    replies = await asyncio.to_thread(relay)
    # Any sender (not bound to Alice's tenant), but only this region's domains: a peer
    # region is no submitter and may not relay on.
    assert replies[0].startswith("250") and replies[2].startswith("250"), replies
    assert replies[1] == "554 5.7.1 Relay access d", replies
    assert replies[3].startswith("250"), replies
    [queued] = mta.queued()
    assert queued.recipient == BOB


async def test_mail_from_outside_without_auth_is_not_bound_by_it(mta: Mta, stores: Stores) -> None:
    add_other_tenant(stores)

    def deliver() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", mta.port, timeout=30) as client:
            client.ehlo("client.test")
            client.mail("carol@other.test")
            client.rcpt(BOB)
            return client.data(MESSAGE)

    code, _ = await asyncio.to_thread(deliver)
    assert code == 250


async def test_a_directory_that_cannot_answer_is_a_temporary_failure(
    start_mta: StartMta, stores: Stores
) -> None:
    class Down:
        """The real directory, except that domain lookups fail as an outage does."""

        def __getattr__(self, name: str) -> object:
            return getattr(stores.metadata, name)

        def get_domain(self, name: str) -> None:
            raise StorageUnavailable("metadata store down")

    mta = await start_mta(directory=Down())
    replies = await asyncio.to_thread(mail_after_auth, mta.submission_port, [ALICE])
    assert replies == ["451 4.3.0 Temporary failure, please try again later"]


class CountingDirectory:
    """The real directory, counting the domain and mailbox lookups made by name."""

    def __init__(self, stores: Stores) -> None:
        self._stores = stores
        self.asked: list[str] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self._stores.metadata, name)

    def get_domain(self, name: str) -> object:
        self.asked.append(name)
        return self._stores.metadata.get_domain(name)


async def test_an_allowed_sender_and_a_remote_domain_are_asked_once_a_refusal_every_time(
    start_mta: StartMta, stores: Stores, raw_client: RawClientFactory
) -> None:
    add_other_tenant(stores)
    directory = CountingDirectory(stores)
    mta = await start_mta(directory=directory)

    def submit() -> list[str]:
        replies = []
        with smtplib.SMTP("127.0.0.1", mta.submission_port, timeout=30) as client:
            client.ehlo("client.test")
            client.login(ALICE, PASSWORD)
            for sender in [ALICE, f"noreply@{DOMAIN}", "carol@other.test", "carol@other.test"]:
                code, text = client.docmd("MAIL", f"FROM:<{sender}>")
                replies.append(f"{code} {text.decode()}")
                if code == 250:
                    for recipient in ["x@far.test", "y@far.test"]:
                        replies.append(str(client.rcpt(recipient)[0]))
                client.rset()
        return replies

    replies = await asyncio.to_thread(submit)
    assert replies == ["250 2.1.0 Sender ok", "250", "250"] * 2 + [NOT_OURS] * 2
    # Alice's domain for the sender rule and far.test once each (then remembered), Alice's
    # domain once more for her tenant (the route cache's), other.test's refusal twice.
    assert sorted(directory.asked) == [DOMAIN, DOMAIN, "far.test", "other.test", "other.test"]
    # What a submitter learned never opens relaying to a client without AUTH.
    denied = await asyncio.to_thread(
        lambda: raw_client(mta.port).dialog(
            ["EHLO client.test", "MAIL FROM:<s@remote.test>", "RCPT TO:<x@far.test>"]
        )
    )
    assert denied[2] == "554 5.7.1 Relay access denied"
    assert directory.asked.count("far.test") == 2


async def test_with_no_cache_time_every_message_asks_the_directory(
    start_mta: StartMta, stores: Stores
) -> None:
    directory = CountingDirectory(stores)
    mta = await start_mta(directory=directory, recipient_cache_seconds=0)

    def submit() -> None:
        with smtplib.SMTP("127.0.0.1", mta.submission_port, timeout=30) as client:
            client.ehlo("client.test")
            client.login(ALICE, PASSWORD)
            for _ in range(2):
                client.mail(ALICE)
                assert client.rcpt("x@far.test")[0] == 250
                client.rset()

    await asyncio.to_thread(submit)
    # A message: the sender rule, the recipient's route, the submitter's tenant (at MAIL
    # for its tenant's message rate, at RCPT for its remote recipient).
    assert sorted(directory.asked) == [DOMAIN] * 6 + ["far.test"] * 2
