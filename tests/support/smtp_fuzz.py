"""Hypothesis strategies for hostile SMTP sessions, and the client that plays them.

Shared by the in-process fuzz test (tests/mairust/smtp/test_fuzz_sessions.py) and the one
against a running `mairust up` (tests/integration/test_e2e_fuzz_restarts.py): random verbs
(valid and not, any case), random arguments, CR / LF / NUL / 8-bit bytes, long lines,
pipelined bursts and disconnects in the middle of a command or of DATA.
"""

from __future__ import annotations

import contextlib
import re
import socket
from dataclasses import dataclass

from hypothesis import strategies as st

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


def connect(port: int, source: str) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))


def play(port: int, source: str, session: Session) -> list[bytes]:
    """Play ``session``; the reply lines read (up to the close after QUIT)."""
    with connect(port, source) as sock:
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


def assert_well_formed(lines: list[bytes]) -> None:
    """Each line a reply line; each 4xx/5xx with an enhanced status code."""
    for line in lines:
        match = REPLY_LINE.fullmatch(line)
        assert match is not None, line
        if line[:1] in b"45":
            assert ENHANCED.match(match["text"]), line


def queued_ids(lines: list[bytes]) -> set[str]:
    """The queue ids of the ``250 ... queued as`` replies among ``lines``."""
    return {m[1].decode() for m in map(QUEUED.match, lines) if m is not None}
