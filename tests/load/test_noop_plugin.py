"""The no-op plugin of the hooks benchmark: a hook response at once, on a kept-alive
connection, to requests of any size; its plugin.toml is one the platform installs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from load.noop_plugin import serve, write_plugin_dir
from load.targets import free_loopback_port
from mairust.hooks.manifest import load_manifest
from mairust.hooks.points import HookPoint
from mairust.hooks.wire import HookResponse
from mairust.model.verdict import VerdictKind


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
