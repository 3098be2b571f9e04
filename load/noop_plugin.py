"""No-op hook plugins for the hooks benchmark: an ``http`` one — an asyncio HTTP/1.1 server
on loopback that answers every POST with ``{"verdict": "continue"}`` at once, keeping the
connection open —, a ``grpc`` one (a ``grpc.aio`` server answering ``Call`` with an empty
``HookResponse``, i.e. continue), a ``serve`` one written with the plugin SDK and a
``stdin`` one (a Python child answering each JSON line at once); for each, its
``plugin.toml`` (pre_receive, envelope scope).

It is the cheapest outside service a plugin can be, so what the benchmark measures is the
platform's cost of a call (payload, the guarded client, the chain, recording), not a
plugin's work. Run it in its own process: ``python -m load.noop_plugin --port N``
(``--grpc`` for the gRPC one).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from pathlib import Path

import grpc
import grpc.aio

from mairust.hooks.proto import mairust_hook_v1_pb2 as pb

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


SERVE_MANIFEST = """\
scopes = ["envelope"]
permissions = []

[plugin]
name = "{name}"
version = "1.0.0"
description = "answers continue at once (benchmark)"
author = "MaiRust load tools"
license = "MIT"

[transport]
kind = "serve"
entrypoint = "plugin:plugin"

[[hooks]]
point = "pre_receive"
priority = {priority}

[timeouts]
call_ms = 2000
on_timeout = "accept"
on_error = "accept"

[autoscaling]
min_replicas = 1
max_replicas = 1

[resources]
num_cpus = 0
"""

SERVE_PLUGIN = """\
from mairust.plugin_sdk import HookRequest, HookResponse, Plugin, proceed

plugin = Plugin("{name}")


@plugin.pre_receive
def check(request: HookRequest, config: dict) -> HookResponse:
    return proceed()
"""


STDIN_MANIFEST = """\
scopes = ["envelope"]
permissions = []

[plugin]
name = "{name}"
version = "1.0.0"
description = "answers continue at once (benchmark)"
author = "MaiRust load tools"
license = "MIT"

[transport]
kind = "stdin"
entrypoint = "{python} noop_stdin.py"

[[hooks]]
point = "pre_receive"
priority = {priority}

[timeouts]
call_ms = 2000
on_timeout = "accept"
on_error = "accept"
"""

# The child: one answer line per request line, flushed at once (the transport matches
# answers to calls by id, so it need not parse more than the id).
STDIN_PLUGIN = """\
import json
import sys

for line in sys.stdin:
    call_id = json.loads(line)["id"]
    sys.stdout.write(json.dumps({"id": call_id, "response": {"verdict": "continue"}}) + "\\n")
    sys.stdout.flush()
"""


WEBHOOK_MANIFEST = """\
scopes = ["envelope", "headers", "body-preview"]
secrets = ["signing"]

[plugin]
name = "{name}"
version = "1.0.0"
description = "posts every message to a no-op receiver (benchmark)"
author = "MaiRust load tools"
license = "MIT"

[transport]
kind = "webhook"
entrypoint = "http://127.0.0.1:{port}/hook"
auth_secret = "signing"

[[hooks]]
point = "post_receive"
priority = {priority}
"""


def write_webhook_plugin_dir(directory: Path, name: str, port: int, priority: int = 100) -> Path:
    """A directory holding the plugin.toml of the webhook plugin ``name``: every message
    posted, signed, to the no-op http service on ``port`` (which answers 200)."""
    directory.mkdir(parents=True, exist_ok=True)
    manifest = WEBHOOK_MANIFEST.format(name=name, port=port, priority=priority)
    (directory / "plugin.toml").write_text(manifest)
    return directory


def write_stdin_plugin_dir(directory: Path, name: str, priority: int = 100) -> Path:
    """A directory holding the no-op ``stdin`` plugin ``name``: plugin.toml and the child's
    script, run by this interpreter."""
    directory.mkdir(parents=True, exist_ok=True)
    manifest = STDIN_MANIFEST.format(name=name, python=sys.executable, priority=priority)
    (directory / "plugin.toml").write_text(manifest)
    (directory / "noop_stdin.py").write_text(STDIN_PLUGIN)
    return directory


def write_serve_plugin_dir(directory: Path, name: str, priority: int = 100) -> Path:
    """A directory holding the no-op ``serve`` plugin ``name`` (its own Serve app, one
    replica, no CPU reserved): plugin.toml and plugin.py written with the plugin SDK."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "plugin.toml").write_text(SERVE_MANIFEST.format(name=name, priority=priority))
    (directory / "plugin.py").write_text(SERVE_PLUGIN.format(name=name))
    return directory


def write_plugin_dir(
    directory: Path, name: str, port: int, priority: int = 100, *, grpc: bool = False
) -> Path:
    """A directory holding the plugin.toml of the no-op plugin ``name`` on ``port`` (the
    http one, or with ``grpc`` the gRPC one)."""
    directory.mkdir(parents=True, exist_ok=True)
    manifest = MANIFEST.format(name=name, port=port, priority=priority)
    if grpc:
        manifest = manifest.replace('kind = "http"', 'kind = "grpc"').replace(
            f"http://127.0.0.1:{port}/hook", f"127.0.0.1:{port}"
        )
    (directory / "plugin.toml").write_text(manifest)
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


async def serve_grpc(port: int) -> None:
    """The gRPC one: ``mairust.hook.v1.HookPlugin/Call`` answered with an empty response
    (every field at its default: version 1, continue)."""
    answer = pb.HookResponse()

    async def call(request: pb.HookRequest, context: object) -> pb.HookResponse:
        return answer

    handler = grpc.method_handlers_generic_handler(
        "mairust.hook.v1.HookPlugin",
        {
            "Call": grpc.unary_unary_rpc_method_handler(
                call,
                request_deserializer=pb.HookRequest.FromString,
                response_serializer=pb.HookResponse.SerializeToString,
            )
        },
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    log.info("no-op gRPC plugin on 127.0.0.1:%d", port)
    try:
        await server.wait_for_termination()
    finally:  # cancelled: stop it, or grpc's threads keep the process alive
        await server.stop(None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m load.noop_plugin",
        description="A no-op http hook plugin on 127.0.0.1 for the hooks benchmark: every "
        'POST is answered {"verdict": "continue"} at once (with --grpc: every '
        "mairust.hook.v1 Call with an empty response, i.e. continue). Stops on Ctrl-C or "
        "SIGTERM.",
    )
    parser.add_argument("--port", type=int, required=True, help="the loopback port to listen on")
    parser.add_argument(
        "--grpc", action="store_true", help="serve the gRPC plugin (mairust.hook.v1) instead"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_grpc(args.port) if args.grpc else serve(args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
