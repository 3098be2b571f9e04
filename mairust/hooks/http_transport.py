"""The ``http`` transport: a plugin that is an outside service, reached with JSON over HTTP
through the platform's one outgoing HTTP client (its address guard included: a plugin on a
private or loopback address needs the operator to allow that network).

The request is the ``HookRequest`` JSON, POSTed to the manifest's entrypoint URL (with
``Authorization: Bearer <secret>`` when the manifest names an ``auth_secret``); the
answer must be 200 with a ``HookResponse`` JSON. Anything else is a ``PluginFailed``, which
the chain turns into the binding's ``on_error`` verdict.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from mairust.errors import MairustError
from mairust.hooks.chain import Binding, PluginCall
from mairust.hooks.wire import HookRequest, HookResponse
from mairust.net.address_guard import OutgoingRequestError
from mairust.net.http_client import SafeHttpClient

CONTENT_TYPE = "application/json"


class PluginFailed(MairustError):
    """A plugin could not be reached or did not answer a hook response."""


class HttpPlugin:
    """Calls one ``http`` plugin at ``url``."""

    def __init__(self, client: SafeHttpClient, url: str, bearer: str | None = None) -> None:
        self._client = client
        self._url = url
        self._bearer = bearer

    async def __call__(self, binding: Binding, request: HookRequest) -> HookResponse:
        headers = {
            "content-type": CONTENT_TYPE,
            "mairust-hook-point": binding.point.value,
            "mairust-plugin": binding.plugin,
        }
        if self._bearer is not None:
            headers["authorization"] = f"Bearer {self._bearer}"
        try:
            answer = await self._client.post(self._url, request.model_dump_json().encode(), headers)
        except OutgoingRequestError as error:
            raise PluginFailed(f"plugin {binding.plugin}: {error}") from error
        if answer.status != 200:
            raise PluginFailed(f"plugin {binding.plugin} answered HTTP {answer.status}")
        try:
            return HookResponse.model_validate_json(answer.body)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "the body"
            raise PluginFailed(
                f"plugin {binding.plugin} answered no hook response ({where}: {first['msg']})"
            ) from None


class PluginsByName:
    """The chain's ``PluginCall`` over the installed plugins, each by its own transport."""

    def __init__(self, plugins: Mapping[str, PluginCall]) -> None:
        self._plugins = dict(plugins)

    async def __call__(self, binding: Binding, request: HookRequest) -> HookResponse:
        plugin = self._plugins.get(binding.plugin)
        if plugin is None:
            raise PluginFailed(f"plugin {binding.plugin} is not installed")
        return await plugin(binding, request)
