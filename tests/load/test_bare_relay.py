"""load/bare_relay: the Python relay floor of the outbound benchmark takes mail with aiosmtpd
and hands it on, byte for byte, over kept connections; what it cannot hand on it refuses."""

from __future__ import annotations

import smtplib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from load.targets import free_loopback_port


class Collector:
    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.sessions = 0

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.received.append((envelope.mail_from or "", list(envelope.rcpt_tos), content))
        return "250 2.0.0 kept"


@pytest.fixture
def destination() -> Iterator[tuple[Collector, int]]:
    collector = Collector()
    port = free_loopback_port()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield collector, port
    finally:
        controller.stop()


def _relay(routes: list[str], *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_loopback_port()
    command = [sys.executable, "-m", "load.bare_relay", "--port", str(port), *extra]
    process = subprocess.Popen(command + [f"--route={route}" for route in routes])
    for _ in range(300):
        try:
            smtplib.SMTP("127.0.0.1", port, timeout=5).quit()
            return process, port
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError("the bare relay did not start")


def test_messages_arrive_unchanged_over_one_kept_connection(destination) -> None:
    collector, port = destination
    process, relay = _relay([f"d0.test=127.0.0.1:{port}"])
    body = "Subject: dots\r\n\r\nfirst\r\n.leading dot\r\n..two\r\n"
    try:
        for n in range(3):
            with smtplib.SMTP("127.0.0.1", relay, timeout=10) as client:
                client.sendmail("a@src.test", [f"u{n}@d0.test"], body)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert [(frm, to) for frm, to, _ in collector.received] == [
        ("a@src.test", [f"u{n}@d0.test"]) for n in range(3)
    ]
    assert all(content == body.encode() for _, _, content in collector.received)
    assert collector.sessions == 1  # three messages, one connection kept


def test_an_unrouted_domain_is_refused_at_rcpt_and_a_dead_destination_at_data() -> None:
    dead = free_loopback_port()  # nothing listens there
    process, relay = _relay([f"d0.test=127.0.0.1:{dead}"])
    try:
        with smtplib.SMTP("127.0.0.1", relay, timeout=10) as client:
            client.ehlo()
            client.mail("a@src.test")
            assert client.rcpt("u@elsewhere.test")[0] == 550
            assert client.rcpt("u@d0.test")[0] == 250
            code, text = client.data(b"Subject: x\r\n\r\nbody\r\n")
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert code == 451 and b"4.4.1" in text


def test_with_a_spool_a_message_is_on_disk_until_its_destination_has_it(
    tmp_path: Path, destination
) -> None:
    collector, port = destination
    dead = free_loopback_port()  # nothing listens there
    spool = tmp_path / "spool"
    spool.mkdir()
    process, relay = _relay(
        [f"d0.test=127.0.0.1:{port}", f"d1.test=127.0.0.1:{dead}"], "--spool", str(spool)
    )
    try:
        with smtplib.SMTP("127.0.0.1", relay, timeout=10) as client:
            assert client.sendmail("a@src.test", ["u@d0.test"], "Subject: one\r\n\r\nx\r\n") == {}
            # Accepted though its destination is down: it is on disk, and stays there.
            client.sendmail("a@src.test", ["u@d1.test"], "Subject: two\r\n\r\ny\r\n")
        for _ in range(200):
            if collector.received and len(list(spool.iterdir())) == 1:
                break
            time.sleep(0.02)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert [to for _, to, _ in collector.received] == [["u@d0.test"]]
    [kept] = list(spool.iterdir())
    assert kept.read_bytes() == b"Subject: two\r\n\r\ny\r\n"
