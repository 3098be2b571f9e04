"""A real HTTPS server on loopback serving MTA-STS policy files (or anything else).

``PolicyHost(address, context)`` listens on ``address:443`` (the port RFC 8461 fixes; tests
run as root) in its own thread, with the server ``SSLContext`` given (a certificate from the
test's CA for the ``mta-sts.<domain>`` names it serves). ``pages`` maps (Host, path) to a
:class:`Page`; anything else is a 404. ``requests`` records every (Host, path) asked for.
A POST (a TLS report upload) is answered the same way, and recorded whole in ``posts``.
"""

from __future__ import annotations

import errno
import http.server
import ssl
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

POLICY_PATH = "/.well-known/mta-sts.txt"


@dataclass
class Page:
    body: bytes
    status: int = 200
    content_type: str = "text/plain"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Post:
    host: str
    path: str
    headers: dict[str, str]
    body: bytes


BIND_PATIENCE_SECONDS = 30.0


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    host: PolicyHost

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up on our certificate is what some tests want


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    # A client that stops mid-handshake must not keep a connection of this port for long.
    timeout = 5

    def do_GET(self) -> None:
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        owner = self.server.host
        with owner.lock:
            owner.requests.append((host, self.path))
            page = owner.pages.get((host, self.path))
        if page is None:
            page = Page(b"not found\n", status=404)
        self.send_response(page.status)
        self.send_header("Content-Type", page.content_type)
        self.send_header("Content-Length", str(len(page.body)))
        for name, value in page.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(page.body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        with self.server.host.lock:
            self.server.host.posts.append(Post(host, self.path, dict(self.headers), body))
        self.do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class PolicyHost:
    """HTTPS on ``address:port`` while the context is open (see the module docstring)."""

    def __init__(self, address: str, context: ssl.SSLContext, *, port: int = 443) -> None:
        self.address = address
        self.port = port
        self.context = context
        self.pages: dict[tuple[str, str], Page] = {}
        self.requests: list[tuple[str, str]] = []
        self.posts: list[Post] = []
        self.lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def serve_policy(self, domain: str, text: str, **page: Any) -> None:
        with self.lock:
            self.pages[(f"mta-sts.{domain}", POLICY_PATH)] = Page(text.encode(), **page)

    def fetches_for(self, domain: str) -> int:
        with self.lock:
            return sum(host == f"mta-sts.{domain}" for host, _ in self.requests)

    def __enter__(self) -> PolicyHost:
        server = self._bound()
        server.host = self
        self.port = server.server_address[1]  # port 0: the one the system gave
        server.socket = self.context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.02,), daemon=True, name="policy-host"
        )
        self._thread.start()
        return self

    def _bound(self) -> _Server:
        """The server, bound. Port 443 is fixed (RFC 8461): a host of an earlier set-up on
        this address may still be letting go of it, so a refused bind is tried again for a
        while before it fails the test."""
        deadline = time.monotonic() + BIND_PATIENCE_SECONDS
        while True:
            try:
                return _Server((self.address, self.port), _Handler)
            except OSError as error:
                if error.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
