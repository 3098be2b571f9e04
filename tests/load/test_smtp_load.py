"""Behaviour of the SMTP load generator against real loopback servers: Postfix's smtp-sink in a
subprocess, and an in-test aiosmtpd server whose replies depend on the recipient."""

from __future__ import annotations

import asyncio
import email
import json
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult

from load.bench_accept import start_smtp_sink
from load.message_factory import MessageFactory, parse_size
from load.smtp_client import dot_stuff
from load.smtp_load import LoadConfig, NonLoopbackHostError, loopback_address, main, run_load
from load.targets import free_loopback_port, stop_process

StartSink = Callable[..., int]
RulesServer = tuple[int, "RecipientRulesHandler"]


@pytest.fixture
def smtp_sink() -> Iterator[StartSink]:
    """Start smtp-sink with the given flags on a free port and return the port once it greets."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*flags: str) -> int:
        port = free_loopback_port()
        process = start_smtp_sink(port, *flags)
        started.append(process)
        give_up = time.monotonic() + 10
        while time.monotonic() < give_up:
            assert process.poll() is None, "smtp-sink exited at start"
            try:
                if greeting_of(port).startswith(b"220"):
                    return port
            except OSError:
                time.sleep(0.05)
        raise AssertionError("smtp-sink did not greet within 10 s")

    yield start
    for process in started:
        stop_process(process, grace=5)


def greeting_of(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        return sock.makefile("rb").readline()


class RecipientRulesHandler:
    """rcpt{n}: n % 3 == 1 answers 451, n % 3 == 2 answers 550, others are accepted."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        n = int(address.split("@")[0].removeprefix("rcpt"))
        if n % 3 == 1:
            return "451 4.3.0 Try again later"
        if n % 3 == 2:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 2.0.0 Queued"


@pytest.fixture
async def rules_server() -> AsyncIterator[RulesServer]:
    handler = RecipientRulesHandler()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, hostname="rules.test"), "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1], handler
    server.close()
    await server.wait_closed()


def rules_config(port: int, **overrides: object) -> LoadConfig:
    settings: dict[str, object] = {
        "port": port,
        "sessions": 4,
        "messages": 30,
        "to_pattern": "rcpt{n}@example.test",
        "to_count": 3,
        "deadline": 30.0,
        "timeout": 10.0,
    }
    return LoadConfig(**{**settings, **overrides})  # type: ignore[arg-type]


async def test_every_message_is_accepted_by_smtp_sink(smtp_sink: StartSink) -> None:
    port = smtp_sink()
    config = LoadConfig(port=port, sessions=5, messages=60, messages_per_connection=7)
    result = await run_load(config)
    assert (result.accepted, result.tempfailed, result.rejected, result.errors) == (60, 0, 0, 0)
    assert result.failures == {}
    assert len(result.latencies_ms) == 60
    assert not result.deadline_reached and result.not_attempted == 0
    assert result.accepted_per_second > 0
    assert result.latency_percentile(50) <= result.latency_percentile(99)  # type: ignore[operator]


async def test_an_offered_rate_paces_the_starts_of_messages(smtp_sink: StartSink) -> None:
    port = smtp_sink()
    config = LoadConfig(port=port, sessions=5, messages=12, messages_per_connection=1, rate=40.0)
    result = await run_load(config)
    assert result.accepted == 12
    # The last message may not start before 11/40 s: a closed loop would finish far sooner.
    assert result.wall_seconds >= 11 / 40
    assert result.worst_lag_ms < 250, "five idle sessions keep up with 40 msg/s"


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rate"):
        LoadConfig(rate=0)


async def test_soft_rejected_recipients_count_as_tempfailed(smtp_sink: StartSink) -> None:
    port = smtp_sink("-r", "RCPT")
    result = await run_load(LoadConfig(port=port, sessions=3, messages=12))
    assert (result.accepted, result.tempfailed, result.rejected) == (0, 12, 0)
    assert result.failures == {"450": 12}
    assert result.recipients_tempfailed == 12


async def test_hard_rejected_data_counts_as_rejected(smtp_sink: StartSink) -> None:
    port = smtp_sink("-f", "DATA")
    result = await run_load(LoadConfig(port=port, sessions=3, messages=12))
    assert (result.accepted, result.tempfailed, result.rejected) == (0, 0, 12)
    assert result.failures == {"500": 12}


async def test_421_closes_the_connection_and_the_next_message_reconnects(
    smtp_sink: StartSink,
) -> None:
    port = smtp_sink("-Q", "RCPT")
    result = await run_load(LoadConfig(port=port, sessions=2, messages=6))
    assert (result.tempfailed, result.errors) == (6, 0)
    assert result.failures == {"421": 6}


async def test_counts_follow_the_reply_of_each_recipient(rules_server: RulesServer) -> None:
    port, handler = rules_server
    result = await run_load(rules_config(port))
    assert (result.accepted, result.tempfailed, result.rejected, result.errors) == (10, 10, 10, 0)
    assert result.failures == {"451": 10, "550": 10}
    assert (result.recipients_tempfailed, result.recipients_rejected) == (10, 10)
    assert len(handler.messages) == 10
    assert len(result.latencies_ms) == 10


async def test_a_message_is_accepted_if_any_recipient_is_and_tempfail_outranks_reject(
    rules_server: RulesServer,
) -> None:
    port, handler = rules_server
    # Message i gets rcpt(2i mod 3) and rcpt(2i+1 mod 3): {0,1} {2,0} {1,2}.
    result = await run_load(rules_config(port, messages=3, recipients=2, sessions=1))
    assert (result.accepted, result.tempfailed, result.rejected) == (2, 1, 0)
    assert result.failures == {"451": 1}
    assert (result.recipients_tempfailed, result.recipients_rejected) == (2, 2)
    assert len(handler.messages) == 2


@pytest.mark.parametrize("size_text", ["5120", "5k", "5KiB", "1000", "20k"])
async def test_messages_arrive_with_exactly_the_requested_size(
    rules_server: RulesServer, size_text: str
) -> None:
    port, handler = rules_server
    size = parse_size(size_text)
    await run_load(rules_config(port, size=size, messages=9))
    assert [len(message) for message in handler.messages] == [size] * 3


def test_every_size_from_the_minimum_up_is_hit_exactly() -> None:
    factory = MessageFactory(
        size=1,
        mail_from="a@example.test",
        to_pattern="user{n}@example.test",
        to_count=10,
        recipients_per_message=2,
        id_domain="load.test",
    )
    with pytest.raises(ValueError, match="too small"):
        factory.build(0)
    built = 0
    for size in range(300, 700):
        sized = MessageFactory(
            size=size,
            mail_from="a@example.test",
            to_pattern="user{n}@example.test",
            to_count=10,
            recipients_per_message=2,
            id_domain="load.test",
        )
        try:
            message = sized.build(7)
        except ValueError:
            continue
        built += 1
        assert len(message) == size
        assert message.endswith(b"\r\n")
        assert b"\n" not in message.replace(b"\r\n", b"")
    assert built > 300


async def test_lines_starting_with_a_dot_arrive_intact(rules_server: RulesServer) -> None:
    port, handler = rules_server
    await run_load(rules_config(port, messages=3))
    (received,) = handler.messages
    lines = received.split(b"\r\n")
    assert b"." in lines  # a lone dot did not end DATA early
    leading = [line for line in lines if line.startswith(b".l")]
    assert leading and all(not line.startswith(b"..") for line in lines)
    parsed = email.message_from_bytes(received)
    assert parsed["To"] == "<rcpt0@example.test>"
    assert parsed["Subject"] == "load test message 0"


def test_dot_stuffing_doubles_leading_dots_and_ends_data() -> None:
    assert dot_stuff(b"a\r\n.\r\n..b\r\nc.d\r\n") == b"a\r\n..\r\n...b\r\nc.d\r\n.\r\n"
    assert dot_stuff(b".x\r\n") == b"..x\r\n.\r\n"


@pytest.mark.parametrize("host", ["192.0.2.10", "10.0.0.1", "example.com", "::ffff:8.8.8.8", ""])
async def test_non_loopback_hosts_are_refused_before_any_connection(
    host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_connections(*args: object, **kwargs: object) -> None:
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(asyncio, "open_connection", no_connections)
    with pytest.raises(NonLoopbackHostError):
        await run_load(LoadConfig(host=host, messages=1))


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.8.9.10", "127.8.9.10"),
        ("::1", "::1"),
        ("[::1]", "::1"),
        ("localhost", "127.0.0.1"),
        ("LOCALHOST.", "127.0.0.1"),
    ],
)
def test_loopback_hosts_are_allowed(host: str, address: str) -> None:
    assert loopback_address(host) == address


def test_cli_refuses_a_non_loopback_host(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--host", "198.51.100.7", "--messages", "1"])
    assert exit_info.value.code == 2
    assert "loopback" in capsys.readouterr().err


def test_cli_prints_one_json_line(smtp_sink: StartSink, capsys: pytest.CaptureFixture[str]) -> None:
    port = smtp_sink()
    status = main(["--port", str(port), "--messages", "25", "--size", "2k", "--json"])
    (line,) = capsys.readouterr().out.splitlines()
    summary = json.loads(line)
    assert status == 0
    assert summary["accepted"] == 25
    assert summary["config"]["size"] == 2048
    assert summary["latency_p50_ms"] <= summary["latency_max_ms"]


async def test_the_run_stops_at_its_deadline(smtp_sink: StartSink) -> None:
    port = smtp_sink("-w", "20")  # holds every DATA for 20 s
    started = time.monotonic()
    result = await run_load(LoadConfig(port=port, sessions=4, messages=100, deadline=1.0))
    assert time.monotonic() - started < 5
    assert result.deadline_reached
    assert (result.accepted, result.aborted_at_deadline, result.not_attempted) == (0, 4, 96)


async def test_a_slow_reply_is_an_error_after_the_reply_timeout(smtp_sink: StartSink) -> None:
    port = smtp_sink("-w", "20")
    config = LoadConfig(port=port, sessions=2, messages=4, timeout=0.3, deadline=30)
    result = await run_load(config)
    assert not result.deadline_reached
    assert (result.accepted, result.errors) == (0, 4)
    assert result.failures == {"error: timeout": 4}


async def test_a_closed_port_counts_every_message_as_an_error() -> None:
    result = await run_load(LoadConfig(port=free_loopback_port(), sessions=2, messages=5))
    assert (result.accepted, result.errors) == (0, 5)
    assert result.failures == {"error: ConnectionRefusedError": 5}


@pytest.mark.parametrize(
    ("text", "size"), [("5120", 5120), ("5k", 5120), ("5KiB", 5120), ("1M", 1048576)]
)
def test_sizes_parse_with_binary_suffixes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["5x", "k", "-5", "5.5k"])
def test_malformed_sizes_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size(text)


class AcceptAll:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 2.0.0 Queued"


def only_alice(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    """Accepts alice@example.test with the password "secret" (AUTH PLAIN's LoginPassword)."""
    granted = (data.login, data.password) == (b"alice@example.test", b"secret")
    return AuthResult(success=granted, handled=False)  # handled=False: aiosmtpd says 535


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize(
    ("password", "accepted", "failures"), [("secret", 9, {}), ("wrong", 0, {"535": 9})]
)
async def test_auth_plain_is_sent_on_every_connection_before_mail(
    password: str, accepted: int, failures: dict[str, int]
) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(
            AcceptAll(), authenticator=only_alice, auth_required=True, auth_require_tls=False
        ),
        "127.0.0.1",
        0,
    )
    try:
        port = server.sockets[0].getsockname()[1]
        config = LoadConfig(
            port=port, sessions=3, messages=9, messages_per_connection=2, timeout=10.0,
            auth=("alice@example.test", password),
        )  # fmt: skip
        result = await run_load(config)
    finally:
        server.close()
        await server.wait_closed()
    assert (result.accepted, result.failures) == (accepted, failures)
    assert "secret" not in repr(config)
