"""MairustSMTP: aiosmtpd's own replies gain enhanced codes; AUTH checks are awaited; AUTH in
the clear only for loopback clients."""

from __future__ import annotations

import asyncio
import base64
import inspect
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from hypothesis import given, settings
from hypothesis.strategies import text

from mairust.errors import StorageUnavailable
from mairust.smtp.protocol import MairustSMTP, PasswordCheck
from mairust.smtp.tls import ensure_self_signed, server_context

if TYPE_CHECKING:
    # Fixture types; conftest is not importable at run time (importlib mode).
    from tests.mairust.smtp.conftest import RawClientFactory


GOOD_LOGIN = "alice@example.test"
GOOD_PASSWORD = "s3cret"


class AcceptAll:
    """A handler with no opinions, so every reply under test is aiosmtpd's own."""

    def __init__(self) -> None:
        self.sessions: list[Session] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.sessions.append(session)
        return "250 2.0.0 Ok: queued"

    async def handle_NOOP(
        self, server: SMTP, session: Session, envelope: Envelope, arg: str
    ) -> str:
        # Lets a test send a reply of its choosing through push().
        return arg.replace("|", "\r\n") if arg else "250 OK"


async def slow_check(login: str, password: str) -> str | None:
    await asyncio.sleep(0.01)  # really awaited, as a directory lookup in a thread is
    if login == GOOD_LOGIN and password == GOOD_PASSWORD:
        return login
    if login == "broken@example.test":
        raise StorageUnavailable("directory down")
    return None


Serve = Callable[..., Any]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start a MairustSMTP server on a free loopback port; returns the port."""
    servers: list[asyncio.Server] = []

    async def start(
        handler: Any = None, password_check: PasswordCheck | None = slow_check, **kwargs: Any
    ) -> int:
        loop = asyncio.get_running_loop()
        options = {"hostname": "mx.example.test", "ident": "MaiRust ESMTP", **kwargs}
        server = await loop.create_server(
            lambda: MairustSMTP(
                handler or AcceptAll(),
                password_check=password_check,
                auth_require_tls=False,
                loop=loop,
                **options,
            ),
            "127.0.0.1",
            0,
        )
        servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    yield start
    for server in servers:
        server.close()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def plain(login: str, password: str) -> str:
    """The AUTH PLAIN initial response (RFC 4616): authzid NUL authcid NUL passwd."""
    return b64("\0" + login + "\0" + password)


async def test_errors_aiosmtpd_writes_itself_carry_enhanced_codes(
    serve: Serve, raw_client: RawClientFactory
) -> None:
    port = await serve(data_size_limit=1000)

    def run() -> tuple[str, list[str]]:
        client = raw_client(port)
        return client.greeting, client.dialog(
            [
                "MAIL FROM:<a@b.test>",
                "EHLO client.test",
                "RCPT TO:<a@b.test>",
                "DATA",
                "FROB",
                "MAIL FROM:<a@b.test> SIZE=1001",
                "MAIL FROM:",
                "MAIL FROM:<a@b.test> BODY=9BIT",
                "MAIL FROM:<a@b.test> FOO=BAR",
                "VRFY",
                "EXPN x",
            ]
        )

    greeting, replies = await asyncio.to_thread(run)
    assert greeting == "220 mx.example.test MaiRust ESMTP"  # the greeting gets no code
    assert replies[0] == "503 5.5.1 Error: send HELO first"
    assert replies[1].startswith("250-mx.example.test\r\n")  # EHLO lines get no code
    assert "\r\n250-SIZE 1000\r\n" in replies[1]
    assert replies[2] == "503 5.5.1 Error: need MAIL command"
    assert replies[3] == "503 5.5.1 Error: need RCPT command"
    assert replies[4] == '500 5.5.2 Error: command "FROB" not recognized'
    assert replies[5] == "552 5.3.4 Error: message size exceeds fixed maximum message size"
    assert replies[6].startswith("501 5.5.4 Syntax: MAIL FROM: <address>")
    assert replies[7] == "501 5.5.4 Error: BODY can only be one of 7BIT, 8BITMIME"
    assert replies[8] == "555 5.5.4 MAIL FROM parameters not recognized or not implemented"
    assert replies[9] == "501 5.5.4 Syntax: VRFY <address>"
    assert replies[10] == "502 5.5.1 EXPN not implemented"


async def test_too_much_data_is_552_5_3_4(serve: Serve, raw_client: RawClientFactory) -> None:
    port = await serve(data_size_limit=100)

    def run() -> list[str]:
        client = raw_client(port)
        return client.dialog(
            [
                "EHLO c.test",
                "MAIL FROM:<a@b.test>",
                "RCPT TO:<c@d.test>",
                "DATA",
                b"x" * 60 + b"\r\n" + b"y" * 60 + b"\r\n.\r\n",
            ]
        )

    replies = await asyncio.to_thread(run)
    assert replies[4] == "552 5.3.4 Error: Too much mail data"


async def test_fixed_success_replies_gain_2_0_0(serve: Serve, raw_client: RawClientFactory) -> None:
    port = await serve()

    def run() -> list[str]:
        client = raw_client(port)
        return client.dialog(["HELO c.test", "NOOP", "RSET", "QUIT"])

    replies = await asyncio.to_thread(run)
    assert replies == ["250 mx.example.test", "250 2.0.0 OK", "250 2.0.0 OK", "221 2.0.0 Bye"]


async def test_multi_line_handler_reply_gets_a_code_on_each_line(
    serve: Serve, raw_client: RawClientFactory
) -> None:
    port = await serve()

    def run() -> list[str]:
        client = raw_client(port)
        return client.dialog(["EHLO c.test", "NOOP 550-first|550 second", "NOOP 451 4.7.1 x"])

    replies = await asyncio.to_thread(run)
    assert replies[1] == "550-5.0.0 first\r\n550 5.0.0 second"
    assert replies[2] == "451 4.7.1 x"


async def test_auth_plain_success_marks_the_session(
    serve: Serve, raw_client: RawClientFactory
) -> None:
    handler = AcceptAll()
    port = await serve(handler)

    def run() -> list[str]:
        client = raw_client(port)
        return client.dialog(
            [
                "EHLO c.test",
                f"AUTH PLAIN {plain(GOOD_LOGIN, GOOD_PASSWORD)}",
                "MAIL FROM:<a@b.test>",
                "RCPT TO:<c@d.test>",
                "DATA",
                b"Subject: x\r\n\r\nx\r\n.\r\n",
            ]
        )

    replies = await asyncio.to_thread(run)
    assert replies[1] == "235 2.7.0 Authentication successful"
    assert replies[5] == "250 2.0.0 Ok: queued"
    session = handler.sessions[0]
    assert session.authenticated is True
    assert session.auth_data == GOOD_LOGIN


@pytest.mark.parametrize(
    ("login", "password", "expected"),
    [
        (GOOD_LOGIN, "wrong", "535 5.7.8 Authentication credentials invalid"),
        ("nobody@example.test", GOOD_PASSWORD, "535 5.7.8 Authentication credentials invalid"),
        ("broken@example.test", "x", "454 4.7.0 Temporary authentication failure"),
    ],
)
async def test_auth_plain_failures(
    serve: Serve, raw_client: RawClientFactory, login: str, password: str, expected: str
) -> None:
    port = await serve()

    def run() -> list[str]:
        client = raw_client(port)
        return client.dialog(["EHLO c.test", f"AUTH PLAIN {plain(login, password)}"])

    assert (await asyncio.to_thread(run))[1] == expected


async def test_auth_login_dialog(serve: Serve, raw_client: RawClientFactory) -> None:
    port = await serve()

    def run() -> list[str]:
        client = raw_client(port)
        return client.dialog(["EHLO c.test", "AUTH LOGIN", b64(GOOD_LOGIN), b64(GOOD_PASSWORD)])

    replies = await asyncio.to_thread(run)
    assert replies[1].startswith("334 ")
    assert replies[2].startswith("334 ")
    assert replies[3] == "235 2.7.0 Authentication successful"


async def test_auth_without_a_password_check_always_fails(
    serve: Serve, raw_client: RawClientFactory
) -> None:
    port = await serve(password_check=None)

    def run() -> list[str]:
        client = raw_client(port)
        return client.dialog(["EHLO c.test", f"AUTH PLAIN {plain(GOOD_LOGIN, 'x')}"])

    assert (await asyncio.to_thread(run))[1] == "535 5.7.8 Authentication credentials invalid"


async def test_bad_base64_in_auth_keeps_aiosmtpd_answer(
    serve: Serve, raw_client: RawClientFactory
) -> None:
    port = await serve()

    def run() -> list[str]:
        client = raw_client(port)
        return client.dialog(["EHLO c.test", "AUTH PLAIN !!!", "AUTH PLAIN " + b64("nonulls")])

    replies = await asyncio.to_thread(run)
    assert replies[1] == "501 5.5.2 Can't decode base64"
    assert replies[2] == "501 5.5.2 Can't split auth value"


# -- the MAIL/RCPT address parse -----------------------------------------------------

_ADDRESS_CHARS = "abcXYZ019.-_+!#$%&'*/=?^`{|}~@<>\"\\()[]:;, \t"


def _parsers(local_part_limit: int = 0) -> tuple[MairustSMTP, SMTP]:
    ours = MairustSMTP(AcceptAll())
    stock = SMTP(AcceptAll())
    ours.local_part_limit = stock.local_part_limit = local_part_limit
    return ours, stock


@pytest.mark.parametrize(
    "arg",
    [
        "<alice@example.test>",
        "<alice@example.test> SIZE=5120 BODY=8BITMIME",
        "alice@example.test",
        "<>",
        "",
        "<a..b@example.test>",
        '<"quoted local"@example.test>',
        "<@relay.example:alice@example.test>",
        "<alice@[192.0.2.1]>",
        "<alice@example.test",
        "<alice@exa mple.test>",
        "<.alice@example.test>",
        "<alice@example.test>SIZE=1",
        "<ålice@exämple.test>",
        "<",
        "<a@b.c>  (comment) x",
        "<a@b.c> \t x",
    ],
)
def test_getaddr_agrees_with_aiosmtpd(arg: str) -> None:
    ours, stock = _parsers()
    assert _outcome(ours, arg) == _outcome(stock, arg)


def _outcome(parser: SMTP, arg: str) -> object:
    """What ``_getaddr`` returns, or the type of what it raises (the stdlib parser raises
    IndexError on a lone '<'; aiosmtpd then answers 500, and so must we)."""
    try:
        return parser._getaddr(arg)
    except Exception as error:
        return type(error)


def test_getaddr_keeps_the_local_part_limit() -> None:
    ours, stock = _parsers(local_part_limit=5)
    for arg in ("<alice@example.test>", "<alicia@example.test>"):
        assert ours._getaddr(arg) == stock._getaddr(arg)
    assert ours._getaddr("<alicia@example.test>") == (None, None)


@settings(max_examples=3000, deadline=None)
@given(text(alphabet=_ADDRESS_CHARS, max_size=40))
def test_getaddr_agrees_with_aiosmtpd_on_any_input(arg: str) -> None:
    ours, stock = _parsers()
    for candidate in (arg, f"<{arg}>", f"<{arg}> SIZE=1"):
        assert _outcome(ours, candidate) == _outcome(stock, candidate)


# -- the per-connection constructor ------------------------------------------------


class HandlerWithAuthMechanism(AcceptAll):
    async def auth_CUSTOM(self, server: SMTP, args: list[str]) -> Any:
        return None


def _function_of(method: Any) -> Any:
    return method.__func__


def _tables(protocol: SMTP) -> tuple[object, ...]:
    auth = {
        name: (impl.is_builtin, _function_of(impl.method))
        for name, impl in protocol._auth_methods.items()
    }
    hooks = {name: _function_of(hook) for name, hook in protocol._handle_hooks.items()}
    return auth, hooks, protocol._ehlo_hook_ver


@pytest.mark.parametrize("handler_class", [AcceptAll, HandlerWithAuthMechanism])
async def test_connections_see_the_same_tables_as_stock_aiosmtpd(handler_class) -> None:
    handler = handler_class()
    first = MairustSMTP(handler)
    again = MairustSMTP(handler)  # the remembered path
    assert _tables(again) == _tables(first)
    stock_class = type("StockSMTP", (MairustSMTP,), {})  # never registered: the real scan
    import aiosmtpd.smtp as smtp_module

    namespace = vars(smtp_module)
    remembered = namespace["inspect"]
    namespace["inspect"] = inspect
    try:
        stock = stock_class(handler)
    finally:
        namespace["inspect"] = remembered
    assert _tables(again) == _tables(stock)
    # Bound to this connection's protocol, not to the one the names were found on.
    owners = {getattr(impl.method, "__self__", None) for impl in again._auth_methods.values()}
    assert owners <= {again, handler} and again in owners
    assert ("CUSTOM" in again._auth_methods) == (handler_class is HandlerWithAuthMechanism)


def _reply(sock: socket.socket) -> str:
    """One reply, read byte by byte (nothing after it is taken off the socket)."""
    data = b""
    while not (data.endswith(b"\r\n") and data.split(b"\r\n")[-2][3:4] in (b" ", b"")):
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data.decode().rstrip("\r\n")


def _auth_dialog(sock: socket.socket) -> list[str]:
    """EHLO, AUTH in the clear, STARTTLS, EHLO and AUTH under TLS: the replies."""
    replies = [_reply(sock)]
    for command in ("EHLO client.test", f"AUTH PLAIN {plain(GOOD_LOGIN, GOOD_PASSWORD)}"):
        sock.sendall(command.encode() + b"\r\n")
        replies.append(_reply(sock))
    sock.sendall(b"STARTTLS\r\n")
    replies.append(_reply(sock))
    client = ssl.create_default_context()
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    with client.wrap_socket(sock) as tls:
        for command in ("EHLO client.test", f"AUTH PLAIN {plain(GOOD_LOGIN, GOOD_PASSWORD)}"):
            tls.sendall(command.encode() + b"\r\n")
            replies.append(_reply(tls))
    return replies


async def test_plaintext_auth_is_allowed_to_loopback_clients_only(tmp_path: Path) -> None:
    """``allow_plaintext_auth`` on: a loopback client may AUTH in the clear; a client
    whose address is not loopback (here a socket pair's peer, which has no IP address:
    tests bind nothing but loopback) gets no AUTH until STARTTLS, then does."""
    loop = asyncio.get_running_loop()
    cert, key = ensure_self_signed(tmp_path, "mx.example.test")
    context = server_context(cert, key)

    def session() -> MairustSMTP:
        return MairustSMTP(
            AcceptAll(),
            password_check=slow_check,
            allow_plaintext_auth=True,
            tls_context=context,
            hostname="mx.example.test",
            loop=loop,
        )

    server = await loop.create_server(session, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    ours, theirs = socket.socketpair()
    await loop.connect_accepted_socket(session, ours)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as tcp:
            on_loopback = await asyncio.to_thread(_auth_dialog, tcp)
        theirs.settimeout(30)
        elsewhere = await asyncio.to_thread(_auth_dialog, theirs)
    finally:
        server.close()
        theirs.close()
    assert "250-AUTH LOGIN PLAIN" in on_loopback[1].split("\r\n")
    assert on_loopback[2] == "235 2.7.0 Authentication successful"
    assert "250-AUTH LOGIN PLAIN" not in elsewhere[1].split("\r\n")
    assert "250-STARTTLS" in elsewhere[1].split("\r\n")
    assert elsewhere[2] == "538 5.7.11 Encryption required for requested authentication mechanism"
    assert elsewhere[3] == "220 2.0.0 Ready to start TLS"
    assert "250-AUTH LOGIN PLAIN" in elsewhere[4].split("\r\n")
    assert elsewhere[5] == "235 2.7.0 Authentication successful"


class _ClosedUvloopLikeTransport(asyncio.Transport):
    """A transport the client has closed, writing as uvloop's does then: it raises."""

    def is_closing(self) -> bool:
        return True

    def write(self, data: Any) -> None:
        raise RuntimeError("unable to perform operation on <TCPTransport closed=True>")


async def test_a_reply_to_a_client_that_left_is_dropped_not_raised() -> None:
    session = MairustSMTP(AcceptAll())
    session.transport = _ClosedUvloopLikeTransport()
    await session.push("250 OK")  # raised on uvloop: a hang-up logged as a server failure
