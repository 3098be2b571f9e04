"""A plugin as a small HTTP service (the ``http`` transport's other end), on the standard
library's threading HTTP server: ``POST`` a ``HookRequest`` JSON to any path, get the
``HookResponse`` JSON back. Loopback by default. Bad requests get ``400`` with an
``application/problem+json`` body; a handler that fails gets ``500``."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pydantic import ValidationError

from mairust.hooks.wire import HookRequest
from mairust.plugin_sdk.plugin import Config, Plugin

_log = logging.getLogger(__name__)
MAX_REQUEST_BYTES = 64 * 1024 * 1024


def http_server(
    plugin: Plugin, config: Config, host: str = "127.0.0.1", port: int = 0
) -> ThreadingHTTPServer:
    """The server, bound (port 0: a free one, see ``server_address``), not yet serving."""
    server = ThreadingHTTPServer((host, port), _handler_for(plugin, config))
    server.daemon_threads = True
    return server


def serve_http(plugin: Plugin, config: Config, host: str = "127.0.0.1", port: int = 0) -> None:
    """Serve ``plugin`` until interrupted."""
    with http_server(plugin, config, host, port) as server:
        bound_host, bound_port = server.server_address[:2]
        _log.info("plugin %s listening on http://%s:%s/", plugin.name, bound_host, bound_port)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            _log.info("plugin %s stopping", plugin.name)


def _handler_for(plugin: Plugin, config: Config) -> Callable[..., BaseHTTPRequestHandler]:
    class HookHandler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length <= 0 or length > MAX_REQUEST_BYTES:
                self._problem(400, "a hook request is a JSON body of a sensible size")
                return
            try:
                request = HookRequest.model_validate_json(self.rfile.read(length))
            except ValidationError as error:
                self._problem(400, f"not a hook request: {error.errors()[0]['msg']}")
                return
            try:
                answer = asyncio.run(plugin.handle(request, config))
            except Exception as error:  # the platform applies the plugin's on_error
                _log.exception("plugin %s failed at %s", plugin.name, request.point.value)
                self._problem(500, f"the plugin failed: {error!r}")
                return
            self._send(200, "application/json", answer.model_dump_json().encode())

        def _problem(self, status: int, detail: str) -> None:
            body = {"type": "about:blank", "title": "Bad hook request", "status": status}
            body["detail"] = detail
            self._send(status, "application/problem+json", json.dumps(body).encode())

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            _log.debug("%s " + format, self.address_string(), *args)

    return HookHandler
