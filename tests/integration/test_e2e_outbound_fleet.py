"""Scenario: `mairust up` delivers a submitter's mail to real MTAs behind the loopback DNS
server's MX records: ten counting Postfix `smtp-sink`s on 127.0.0.10-19 (one per domain
d0.test … d9.test, all on one port, as MXs are on the Internet) and a real Postfix on
127.0.0.20 that delivers pf.test's mail to a mailbox file. Each sink counts exactly its own
domain's messages, sessions carry more than one message (connection reuse), and the
Postfix mailbox holds the messages with a DKIM signature that verifies."""

from __future__ import annotations

import contextlib
import mailbox
import os
import pwd
import shutil
import smtplib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from load.postfix_target import DISCARD, private_postfix
from load.sink_fleet import destinations, free_fleet_port, sink_address
from mairust.auth.dkim import verify_dkim
from mairust.auth.dns_resolver import CachingResolver
from mairust.auth.results import DkimWord
from tests.support.mairust_server import wait_for
from tests.support.outbound_server import PASSWORD, SUBMITTER, outbound_server

SINKS = 10
PER_DOMAIN = 4
POSTFIX_ADDRESS = "127.0.0.20"
POSTFIX_DOMAIN = "pf.test"
POSTFIX_MAILBOX = "joe"
POSTFIX_MESSAGES = 2
MAIL_USER = "nobody"  # Postfix's virtual agent writes the mailbox file as this user


def message(recipient: str, number: int) -> str:
    return (
        f"From: Alice <{SUBMITTER}>\r\nTo: {recipient}\r\nSubject: fleet {number}\r\n"
        f"Message-ID: <fleet-{number}@example.test>\r\n\r\nMessage {number}.\r\n"
    )


@contextlib.contextmanager
def mailbox_directory() -> Iterator[Path]:
    """A directory Postfix's virtual agent may write mailbox files into (as ``MAIL_USER``),
    reachable from /: pytest's own temporary folders are closed to other users."""
    base = Path(tempfile.mkdtemp(prefix="postfix-mail-"))
    try:
        base.chmod(0o755)
        user = pwd.getpwnam(MAIL_USER)
        os.chown(base, user.pw_uid, user.pw_gid)
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def virtual_mailbox_cf(base: Path) -> str:
    user = pwd.getpwnam(MAIL_USER)
    address = f"{POSTFIX_MAILBOX}@{POSTFIX_DOMAIN}"
    return (
        f"virtual_mailbox_domains = {POSTFIX_DOMAIN}\n"
        f"virtual_mailbox_base = {base}\n"
        f"virtual_mailbox_maps = inline:{{ {address}={POSTFIX_MAILBOX} }}\n"
        f"virtual_uid_maps = static:{user.pw_uid}\n"
        f"virtual_gid_maps = static:{user.pw_gid}\n"
    )


def test_mail_reaches_ten_sinks_with_reuse_and_a_postfix_mailbox_signed(
    new_server, tmp_path
) -> None:
    sink_addresses = [sink_address(index) for index in range(SINKS)]
    port = free_fleet_port([*sink_addresses, POSTFIX_ADDRESS])
    postfix_mx: dict[str, dict[str, Any]] = {
        POSTFIX_DOMAIN: {"MX": [(10, f"mx.{POSTFIX_DOMAIN}")]},
        f"mx.{POSTFIX_DOMAIN}": {"A": [POSTFIX_ADDRESS]},
    }
    with (
        destinations(SINKS, port, tmp_path, records=postfix_mx) as (fleet, zone),
        mailbox_directory() as mail_base,
        private_postfix(
            port,
            "",
            DISCARD,
            drain_timeout=10.0,
            extra_main_cf=virtual_mailbox_cf(mail_base),
            address=POSTFIX_ADDRESS,
        ),
    ):
        # Idle sessions are kept a while between rounds; closed soon after the run, so the
        # sinks count the sessions as ended.
        server = outbound_server(new_server, tmp_path, zone.port, port, idle_session_seconds=1.0)
        with server.api() as api:
            made = api.post("/api/v1/domains/example.test/dkim-keys", json={"algorithm": "rsa2048"})
            assert made.status_code == 201, made.text
            key = made.json()
            zone.records[key["dns_name"].rstrip(".").lower()] = {"TXT": [key["dns_record"]]}

        recipients = [
            f"user{number}@{domain}" for number in range(PER_DOMAIN) for domain in fleet.domains
        ] + [f"{POSTFIX_MAILBOX}@{POSTFIX_DOMAIN}"] * POSTFIX_MESSAGES
        with smtplib.SMTP("127.0.0.1", server.submission_port, timeout=30) as client:
            client.ehlo("client.test")
            client.login(SUBMITTER, PASSWORD)
            for number, recipient in enumerate(recipients):
                client.sendmail(SUBMITTER, [recipient], message(recipient, number))

        wait_for(
            lambda: fleet.messages() == SINKS * PER_DOMAIN,
            timeout=90,
            what=f"{SINKS * PER_DOMAIN} messages at the sinks",
        )
        mailbox_file = mail_base / POSTFIX_MAILBOX

        def delivered() -> list[bytes]:
            if not mailbox_file.exists():
                return []
            box = mailbox.mbox(mailbox_file, create=False)
            return [box.get_bytes(key) for key in box.iterkeys()]  # as stored, not re-generated

        stored = wait_for(
            lambda: len(found := delivered()) == POSTFIX_MESSAGES and found,
            timeout=90,
            what="the messages in Postfix's mailbox file",
        )
        # Every sessions ended is counted once its idle time is over.
        wait_for(
            lambda: all(c.sessions >= 1 for c in fleet.counters()),
            timeout=30,
            what="the sinks' sessions closed",
        )
        counters = fleet.counters()
        assert [c.messages for c in counters] == [PER_DOMAIN] * SINKS  # each domain its MX
        # Connection reuse: fewer sessions than messages in all, and some session carried
        # more than one message to its destination.
        assert sum(c.sessions for c in counters) < SINKS * PER_DOMAIN
        assert any(c.messages > c.sessions for c in counters)
        resolver = CachingResolver(["127.0.0.1"], port=zone.port, timeout=1.0)
        for raw in stored:
            assert f"Delivered-To: {POSTFIX_MAILBOX}@{POSTFIX_DOMAIN}".encode() in raw
            results = verify_dkim(resolver, raw.replace(b"\n", b"\r\n"))
            assert results and {r.result for r in results} == {DkimWord.PASS}, raw.decode()
