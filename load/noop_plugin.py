"""A no-op ``http`` hook plugin for the hooks benchmark: an asyncio HTTP/1.1 server on
loopback that answers every POST with ``{"verdict": "continue"}`` at once, keeping the
connection open, and writes its ``plugin.toml`` (pre_receive, envelope scope).

It is the cheapest outside service a plugin can be, so what the benchmark measures is the
platform's cost of a call (payload, the guarded client, the chain, recording), not a
plugin's work. Run it in its own process: ``python -m load.noop_plugin --port N``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from pathlib import Path

log = logging.getLogger("load.noop_plugin")

ANSWER = b'{"verdict": "continue"}'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
    b"content-length: " + str(len(ANSWER)).encode() + b"\r\n\r\n" + ANSWER
)
MAX_HEADER_BYTES = 64 * 1024

MANIFEST = """\
scopes = ["envelope"]
permissions = []

[plugin]
name = "{name}"
version = "1.0.0"
description = "answers continue at once (benchmark)"
author = "MaiRust load tools"
license = "MIT"

[transport]
kind = "http"
entrypoint = "http://127.0.0.1:{port}/hook"

[[hooks]]
point = "pre_receive"
priority = {priority}

[timeouts]
call_ms = 2000
on_timeout = "accept"
on_error = "accept"
"""


def write_plugin_dir(directory: Path, name: str, port: int, priority: int = 100) -> Path:
    """A directory holding the plugin.toml of the no-op plugin ``name`` on ``port``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "plugin.toml").write_text(MANIFEST.format(name=name, port=port, priority=priority))
    return directory


async def _serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, ValueError):
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if len(head) > MAX_HEADER_BYTES:
                return
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if length:
                await reader.readexactly(length)
            writer.write(RESPONSE)
            await writer.drain()
    writer.close()


async def serve(port: int) -> None:
    server = await asyncio.start_server(_serve_connection, "127.0.0.1", port)
    log.info("no-op plugin on 127.0.0.1:%d", port)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m load.noop_plugin",
        description="A no-op http hook plugin on 127.0.0.1 for the hooks benchmark: every "
        'POST is answered {"verdict": "continue"} at once. Stops on Ctrl-C or SIGTERM.',
    )
    parser.add_argument("--port", type=int, required=True, help="the loopback port to listen on")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
