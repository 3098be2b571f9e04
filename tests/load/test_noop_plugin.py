"""The no-op plugins of the hooks benchmark: the http one answers at once, on a kept-alive
connection, to requests of any size; the stdin one answers through the real transport; each
plugin.toml is one the platform installs."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path

import httpx

from load.noop_plugin import (
    serve,
    serve_grpc,
    write_plugin_dir,
    write_stdin_plugin_dir,
    write_webhook_plugin_dir,
)
from load.targets import free_loopback_port
from mairust.hooks.chain import Binding
from mairust.hooks.grpc_transport import GrpcPlugin
from mairust.hooks.manifest import TransportKind, load_manifest
from mairust.hooks.payload import build_request
from mairust.hooks.points import DataScope, HookPoint
from mairust.hooks.stdin_transport import StdinPlugin, command_of
from mairust.hooks.wire import HookRequest, HookResponse
from mairust.model.message import Envelope
from mairust.model.verdict import VerdictKind
from mairust.net.address_guard import AddressPolicy
from mairust.net.http_client import SafeHttpClient


async def test_it_answers_continue_on_one_connection() -> None:
    port = free_loopback_port()
    server = asyncio.create_task(serve(port))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(50):
                try:
                    await client.get("/")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.05)
            for body in (b"{}", b"x" * 200_000):
                answer = await client.post("/hook", content=body)
                assert answer.status_code == 200
                assert HookResponse.model_validate_json(answer.content).verdict is (
                    VerdictKind.CONTINUE
                )
    finally:
        server.cancel()


def test_its_manifest_is_valid_and_binds_pre_receive(tmp_path: Path) -> None:
    directory = write_plugin_dir(tmp_path / "noop", "noop-1", 4321, priority=2)
    manifest = load_manifest(directory)
    assert manifest.plugin.name == "noop-1"
    assert manifest.transport.entrypoint == "http://127.0.0.1:4321/hook"
    [hook] = manifest.hooks
    assert (hook.point, hook.priority) == (HookPoint.PRE_RECEIVE, 2)


async def test_the_grpc_one_answers_continue_through_the_transport(tmp_path: Path) -> None:
    port = free_loopback_port()
    manifest = load_manifest(write_plugin_dir(tmp_path / "noop", "noop-grpc-0", port, grpc=True))
    assert manifest.transport.kind is TransportKind.GRPC
    assert manifest.transport.entrypoint == f"127.0.0.1:{port}"
    server = asyncio.create_task(serve_grpc(port))
    client = SafeHttpClient(AddressPolicy.allowing(["127.0.0.0/8"]))
    plugin = GrpcPlugin(manifest.transport.entrypoint, client.checked_addresses)
    binding = Binding("noop-grpc-0", HookPoint.PRE_RECEIVE)
    try:
        for _ in range(50):  # until the server listens
            try:
                answer = await plugin(binding, envelope_request())
                break
            except Exception:
                await asyncio.sleep(0.1)
        assert answer.verdict is VerdictKind.CONTINUE
    finally:
        await plugin.aclose()
        await client.aclose()
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server


def envelope_request() -> HookRequest:
    envelope = Envelope(
        mail_from="s@remote.example",
        rcpt_tos=("a@example.test",),
        received_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return build_request(HookPoint.PRE_RECEIVE, {DataScope.ENVELOPE}, envelope, None)


async def test_the_stdin_one_answers_continue_through_the_transport(tmp_path: Path) -> None:
    directory = write_stdin_plugin_dir(tmp_path / "noop", "noop-stdin-0", priority=1)
    manifest = load_manifest(directory)
    assert manifest.transport.kind is TransportKind.STDIN
    assert [hook.point for hook in manifest.hooks] == [HookPoint.PRE_RECEIVE]
    plugin = StdinPlugin(
        "noop-stdin-0", command_of(manifest.transport.entrypoint, directory), directory, dict
    )
    request = envelope_request()
    binding = Binding("noop-stdin-0", HookPoint.PRE_RECEIVE)
    try:
        answers = await asyncio.gather(*(plugin(binding, request) for _ in range(20)))
    finally:
        await plugin.aclose()
    assert {answer.verdict for answer in answers} == {VerdictKind.CONTINUE}
    assert plugin.starts == 1


def test_the_webhook_one_posts_to_the_http_service_at_post_receive(tmp_path: Path) -> None:
    manifest = load_manifest(write_webhook_plugin_dir(tmp_path / "wh", "noop-webhook-0", 4321))
    assert manifest.transport.kind is TransportKind.WEBHOOK
    assert manifest.transport.entrypoint == "http://127.0.0.1:4321/hook"
    assert manifest.transport.auth_secret == "signing" and manifest.secrets == ["signing"]
    assert [hook.point for hook in manifest.hooks] == [HookPoint.POST_RECEIVE]
