"""The ``serve`` transport: hook calls to a serve plugin through its application's Serve
handle (looked up by name on first use, in a thread: the lookup asks Serve's controller).
The requests of one event-loop turn travel in one Serve call (a Serve call costs about a
millisecond of CPU: one per message would cap the platform near 1,000 msg/s, DESIGN §7).

The deployment batches what arrives at once (``serve.plugin_deployment``); an error the
plugin raised comes back as an answer and becomes a ``PluginFailed`` here, which the chain
turns into the binding's ``on_error`` verdict.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import ValidationError

from mairust.hooks.chain import Binding, PluginCall
from mairust.hooks.deployment import app_name
from mairust.hooks.http_transport import PluginFailed
from mairust.hooks.manifest import Manifest
from mairust.hooks.wire import HookRequest, HookResponse
from mairust.micro_batch import KeyedBatcher
from mairust.model.plugins import InstalledPlugin


class ServePlugin:
    """Calls one serve plugin; the requests of one event-loop turn go in one Serve call
    (``KeyedBatcher``: while ``max_calls`` calls are out, the next batch grows instead)."""

    def __init__(self, plugin: str, max_calls: int = 2) -> None:
        self._plugin = plugin
        self._handle: Any = None
        self._batches: KeyedBatcher[str, str, dict[str, str]] = KeyedBatcher(
            self._send, max_calls_per_key=max_calls
        )

    @property
    def calls(self) -> int:
        """Serve calls made (each carrying a batch of requests)."""
        return self._batches.calls

    async def _send(self, plugin: str, requests: list[str]) -> list[dict[str, str]]:
        if self._handle is None:
            self._handle = await asyncio.to_thread(_handle_of, app_name(plugin))
        answers: list[dict[str, str]] = await self._handle.many.remote(requests)
        return answers

    async def __call__(self, binding: Binding, request: HookRequest) -> HookResponse:
        answer = await self._batches.submit(self._plugin, request.model_dump_json())
        if "error" in answer:
            raise PluginFailed(f"plugin {self._plugin} failed: {answer['error']}")
        try:
            return HookResponse.model_validate_json(answer["response"])
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "the answer"
            raise PluginFailed(
                f"plugin {self._plugin} answered no hook response ({where}: {first['msg']})"
            ) from None


def _handle_of(app: str) -> Any:
    # Imported on first use: the SMTP front-end builds this transport at start, and Ray
    # Serve's client is a good part of a second to import for a process that may never
    # call a serve plugin.
    from ray import serve
    from ray.serve.exceptions import RayServeException

    try:
        return serve.get_app_handle(app)
    except RayServeException as error:
        raise PluginFailed(f"{app} is not deployed: {error}") from None


def serve_transport(plugin: InstalledPlugin, manifest: Manifest) -> PluginCall:
    """The runtime's transport factory for ``transport.kind = "serve"``: up to two calls
    out per replica the plugin may have (so every replica can be kept busy)."""
    return ServePlugin(plugin.name, max_calls=2 * manifest.autoscaling.max_replicas)
