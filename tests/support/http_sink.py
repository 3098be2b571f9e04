"""A real HTTP server on 127.0.0.1 for tests of outgoing requests (webhooks, the safe client).

``HttpSink`` runs ``http.server`` in a thread on an ephemeral loopback port (optionally
with TLS), records every request it gets (method, path, headers, body) and answers from
a script: a list of ``Reply`` popped one per request, then ``default``. A reply may
redirect (``location``), delay, or send a large body, so that tests can drive the client
through each branch against a real socket.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b"ok"
    location: str | None = None
    delay: float = 0.0


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpSink:
    script: list[Reply] = field(default_factory=list)
    default: Reply = field(default_factory=Reply)
    requests: list[SeenRequest] = field(default_factory=list)
    port: int = 0
    scheme: str = "http"

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def next_reply(self) -> Reply:
        return self.script.pop(0) if self.script else self.default

    def wait_for(self, count: int, timeout: float = 10.0) -> list[SeenRequest]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.requests)


def _handler(sink: HttpSink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            sink.requests.append(
                SeenRequest(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
            )
            reply = sink.next_reply()
            if reply.delay:
                time.sleep(reply.delay)
            self.send_response(reply.status)
            if reply.location is not None:
                self.send_header("Location", reply.location)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = do_POST = do_PUT = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def http_sink(
    *replies: Reply, tls: ssl.SSLContext | None = None, default: Reply | None = None
) -> Iterator[HttpSink]:
    """A running sink on 127.0.0.1 (HTTPS when ``tls`` is a server context)."""
    sink = HttpSink(script=list(replies), default=default or Reply())
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(sink))
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        sink.scheme = "https"
    sink.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="http-sink", daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
