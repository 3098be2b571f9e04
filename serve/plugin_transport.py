"""The ``serve`` transport: a hook call to a serve plugin through its application's Serve
handle (looked up by name on first use, in a thread: the lookup asks Serve's controller).

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
from mairust.model.plugins import InstalledPlugin


class ServePlugin:
    def __init__(self, plugin: str) -> None:
        self._plugin = plugin
        self._handle: Any = None

    async def __call__(self, binding: Binding, request: HookRequest) -> HookResponse:
        if self._handle is None:
            self._handle = await asyncio.to_thread(_handle_of, app_name(self._plugin))
        answer: dict[str, str] = await self._handle.remote(request.model_dump_json())
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
    """The runtime's transport factory for ``transport.kind = "serve"``."""
    return ServePlugin(plugin.name)
