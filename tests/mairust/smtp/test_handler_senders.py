"""MAIL FROM after AUTH: only addresses of the client's own tenant's domains (553 5.7.1)."""

from __future__ import annotations

import asyncio
import smtplib
from typing import TYPE_CHECKING

from mairust.errors import StorageUnavailable
from mairust.routing.senders import SenderRefusal, login_sender_refusal
from mairust.storage.stores import Stores

if TYPE_CHECKING:
    # Fixture types; conftest is not importable at run time (importlib mode).
    from tests.mairust.smtp.conftest import Mta, StartMta

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
