"""Property-based SMTP sessions against one real front-end over loopback sockets.

Hypothesis writes sessions of random verbs (valid and not, any case), random arguments,
CR / LF / NUL / 8-bit bytes, long lines, pipelined bursts and disconnects in the middle of
a command or of DATA, sent from untrusted loopback addresses (127.0.0.36-127.0.0.50).
After each session: every reply line is well-formed (4xx/5xx with an enhanced status
code), a fresh connection still gets its 220 greeting, each message that got
``250 ... queued as`` is in the spool exactly once, and nothing was logged with a
traceback. ``MAIRUST_FUZZ_EXAMPLES`` sets the number of sessions (500 in CI, derandomized).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

if TYPE_CHECKING:
    from tests.mairust.smtp.conftest import StartMta

EXAMPLES = int(os.environ.get("MAIRUST_FUZZ_EXAMPLES", "500"))
SOURCES = [f"127.0.0.{n}" for n in range(36, 51)]
REPLY_LINE = re.compile(rb"(?P<code>[2-5]\d\d)(?P<sep>[ -])?(?P<text>.*)", re.DOTALL)
ENHANCED = re.compile(rb"[245]\.\d{1,3}\.\d{1,3}( |$)")
QUEUED = re.compile(rb"250 2\.0\.0 Ok: queued as (\S+)")
VERBS = [
    "HELO", "EHLO", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "VRFY", "EXPN", "HELP",
    "AUTH", "STARTTLS", "BDAT", "TURN", "ETRN", "XCLIENT", "PROXY", "QUIT", "",
]  # fmt: skip
ARGUMENTS = [
    "client.test", "FROM:<sender@remote.test>", "TO:<alice@example.test>",
    "TO:<bob@example.test>", "FROM:<>", "TO:<nobody@example.test>", "FROM:<a@b> SIZE=10",
    "FROM:<a@b> BODY=8BITMIME SMTPUTF8", "TO:<@relay.test:alice@example.test>",
    "PLAIN", "LOGIN", "PLAIN AGFsaWNlAHdyb25n", "=", "*", "TO:<josé@example.test>",
]  # fmt: skip
RAW_BYTES = st.binary(max_size=80) | st.sampled_from(
    [b"\r", b"\n", b"\0", b"\r\n", b"\xff\xfe", b".", b"\r\n.\r\n", b"\n.\n", b"\r.\r"]
)


@dataclass(frozen=True)
class Session:
    chunks: list[bytes]  # each sent with one sendall, in order (a chunk may hold many lines)
    disconnect: bool  # close without QUIT after the last chunk, mid-command or mid-DATA


def _case(text: str, flips: list[bool]) -> str:
    return "".join(
        c.swapcase() if flip else c for c, flip in zip(text, flips + [False] * 99, strict=False)
    )


@st.composite
def _command(draw: st.DrawFn) -> bytes:
    verb = _case(draw(st.sampled_from(VERBS)), draw(st.lists(st.booleans(), max_size=8)))
    argument = draw(st.sampled_from(ARGUMENTS) | st.text(max_size=40))
    line = (verb + (" " + argument if argument else "")).encode("utf-8", "surrogatepass")
    return line + draw(RAW_BYTES if draw(st.integers(0, 9)) == 0 else st.just(b"")) + b"\r\n"


@st.composite
def _transaction(draw: st.DrawFn) -> bytes:
    """MAIL, RCPT, DATA and a body of random lines; the end-of-data dot sometimes missing."""
    recipients = draw(st.lists(st.sampled_from(["alice", "bob", "nobody"]), min_size=1, max_size=3))
    lines = [b"EHLO client.test\r\n", b"MAIL FROM:<sender@remote.test>\r\n"]
    lines += [f"RCPT TO:<{r}@example.test>\r\n".encode() for r in recipients]
    lines.append(b"DATA\r\n")
    body = draw(st.lists(st.binary(max_size=60) | RAW_BYTES | st.just(b"x" * 1200), max_size=6))
    end = b"\r\n.\r\n" if draw(st.integers(0, 4)) else b""
    return b"".join(lines) + b"Subject: fuzz\r\n\r\n" + b"\r\n".join(body) + end


CHUNK = (
    _command()
    | _transaction()
    | st.lists(_command(), min_size=2, max_size=8).map(b"".join)  # a pipelined burst
    | RAW_BYTES
    | st.integers(513, 5000).map(lambda n: b"NOOP " + b"y" * n + b"\r\n")
)
SESSIONS = st.builds(
    Session, st.lists(CHUNK, min_size=1, max_size=6), st.integers(0, 4).map(lambda n: n == 0)
)


def _connect(port: int, source: str) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))


def _run(port: int, source: str, session: Session) -> list[bytes]:
    """Play ``session``; the reply lines read (up to the close after QUIT)."""
    with _connect(port, source) as sock:
        for chunk in session.chunks:
            try:
                sock.sendall(chunk)
            except OSError:  # the server closed the session (a QUIT, or too many errors)
                break
        if session.disconnect:
            return []
        with contextlib.suppress(OSError):  # closed already
            # Ends a DATA in progress; outside DATA the lines are refused commands.
            sock.sendall(b"\r\n.\r\nQUIT\r\n")
        received = bytearray()
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:  # closed with our unread bytes in its buffer
                break
            if not data:
                break
            received += data
    return bytes(received).split(b"\r\n")[:-1]


def _assert_well_formed(lines: list[bytes]) -> None:
    for line in lines:
        match = REPLY_LINE.fullmatch(line)
        assert match is not None, line
        if line[:1] in b"45":
            assert ENHANCED.match(match["text"]), line


async def test_random_sessions_get_well_formed_replies_and_no_crash(
    start_mta: StartMta, caplog: pytest.LogCaptureFixture
) -> None:
    mta = await start_mta(
        auth_settings={"trusted_networks": ["127.0.0.1/32"]},
        auth_failure_delay=0,  # the AUTH tarpit would make each failing example 5 s long
        admission={
            "max_connections_per_ip": 1000,
            "messages_per_minute_per_ip": 0,
            "command_timeout_seconds": 5,
            "data_timeout_seconds": 5,
        },
    )
    loop = asyncio.get_running_loop()
    seen: set[str] = set()
    counter = iter(range(10**9))

    async def spool_ids() -> dict[str, list[str]]:
        recipients: dict[str, list[str]] = {}
        for item in mta.queued():
            recipients.setdefault(item.message.id, []).append(item.recipient)
        return recipients

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(session=SESSIONS)
    def fuzz(session: Session) -> None:
        source = SOURCES[next(counter) % len(SOURCES)]
        lines = _run(mta.port, source, session)
        _assert_well_formed(lines)
        queued = {m[1].decode() for m in map(QUEUED.match, lines) if m is not None}
        spooled = asyncio.run_coroutine_threadsafe(spool_ids(), loop).result()
        for message_id in queued:
            assert message_id not in seen, message_id  # a queue id is never given twice
            recipients = spooled.get(message_id)
            assert recipients, message_id  # the 250 was sent for a durable message
            assert len(recipients) == len(set(recipients)), recipients  # each once
        # Not "and nothing else": a transaction complete before a disconnect is spooled
        # (its 250 unread) whenever the server gets to it, maybe during a later example.
        assert queued <= set(spooled) - seen
        seen.update(spooled)
        with _connect(mta.port, source) as sock:
            assert sock.recv(512).startswith(b"220 "), "the server no longer greets"

    await asyncio.to_thread(fuzz)
    tracebacks = [
        record
        for record in caplog.records
        if record.exc_info is not None or "Traceback" in record.getMessage()
    ]
    assert tracebacks == [], [logging.Formatter().format(r) for r in tracebacks]
    assert len(seen) > EXAMPLES // 20  # the sessions did deliver messages, not only refusals
