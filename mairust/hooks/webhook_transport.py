"""The ``webhook`` transport: a plugin that is an HTTP endpoint told about mail, never asked.

A call is a Standard Webhooks POST (``mairust.webhooks.signing``) put in the platform's one
durable webhook outbox, which the tenants' event webhooks use too: the delivery loop
(``mairust.webhooks.delivery``) sends it through the guarded outgoing HTTP client, retries
it with backoff and gives up after its attempts, as for any tenant endpoint. The plugin's
endpoint is the manifest's entrypoint URL, and the signing secret the plugin secret its
``transport.auth_secret`` names (a ``whsec_`` secret); both are read at each call, so an
upgrade or a secret set anew applies to the next call.

Being delivered later, a webhook cannot give a verdict: the manifest refuses a webhook
plugin at a synchronous point (only ``post_receive``), and a call answers ``continue`` as
soon as its delivery is enqueued. It runs as a ``post_receive`` job (``hooks.jobs``): the
job loop reads the message by the plugin's scopes, honours the binding's tenant and domain
filters, records the call, and retries it if the enqueue fails (the store is down); the
outbox then owns the HTTP retries. The job's (point, message id) is the delivery's event
id, so a job called twice enqueues one delivery.

What a webhook plugin is sent is chosen here, since it has no code running on the platform:
its configuration's ``match`` table (``recipient``, ``subject``, ``from``: regular
expressions, searched case-insensitively, every one given must match) filters the mail;
a call that does not match enqueues nothing. ``subject`` and ``from`` are read from the
header fields (the ``headers`` scope); ``from`` also matches the envelope sender.

The body is ``{"type": "hook.<point>", "timestamp", "data"}``, ``data`` holding the
request's scoped parts (as the wire model names them, without the callback), with
``plugin``, ``subject`` and ``from`` added.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol

from mairust.hooks.chain import Binding, PluginCall
from mairust.hooks.http_transport import PluginFailed
from mairust.hooks.manifest import Manifest
from mairust.hooks.wire import HookRequest, HookResponse
from mairust.model.plugins import InstalledPlugin
from mairust.model.webhooks import WebhookDelivery
from mairust.storage.protocols import PluginStore, WebhookOutbox
from mairust.webhooks.events import event_body

_log = logging.getLogger(__name__)

MATCH_KEY = "match"
MATCH_FIELDS = ("recipient", "subject", "from")


class WebhookPluginStore(PluginStore, WebhookOutbox, Protocol):
    """What the transport reads (the plugin, its secrets) and writes (the outbox)."""


def event_type(request: HookRequest) -> str:
    return f"hook.{request.point.value}"


def header(request: HookRequest, name: str) -> str | None:
    """The first header field ``name`` of the request (None without the headers scope)."""
    for field, value in request.headers or ():
        if field.lower() == name:
            return value
    return None


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def matches(request: HookRequest, config: Mapping[str, Any]) -> bool:
    """Whether the request passes the plugin's ``match`` filter (none: everything does).

    PluginFailed for a filter that is not a table of regular expressions."""
    wanted = config.get(MATCH_KEY) or {}
    if not isinstance(wanted, Mapping) or set(wanted) - set(MATCH_FIELDS):
        raise PluginFailed(f"config {MATCH_KEY}: a table of {', '.join(MATCH_FIELDS)}")
    envelope = request.envelope
    candidates = {
        "recipient": list(envelope.rcpt_tos) if envelope is not None else [],
        "subject": [header(request, "subject") or ""] if request.headers is not None else [],
        "from": [
            *([envelope.mail_from] if envelope is not None else []),
            *([header(request, "from") or ""] if request.headers is not None else []),
        ],
    }
    for field, pattern in wanted.items():
        try:
            compiled = _compiled(str(pattern))
        except re.error as error:
            raise PluginFailed(
                f"config {MATCH_KEY}.{field}: not a regular expression: {error}"
            ) from None
        if not any(compiled.search(value) for value in candidates[field]):
            return False
    return True


def webhook_body(plugin: str, request: HookRequest, at: datetime) -> str:
    data = request.model_dump(
        mode="json", exclude={"version", "callback_url", "callback_token"}, exclude_none=True
    )
    data["plugin"] = plugin
    data["subject"] = header(request, "subject")
    data["from"] = header(request, "from")
    return event_body(event_type(request), data, at)


class WebhookPlugin:
    """Calls one ``webhook`` plugin: enqueues its delivery, answers ``continue``.
    ``on_enqueued`` (e.g. the delivery loop's nudge) runs after a delivery is enqueued."""

    def __init__(
        self,
        store: WebhookPluginStore,
        plugin: str,
        on_enqueued: Callable[[], None] | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._plugin = plugin
        self._on_enqueued = on_enqueued
        self._clock = clock

    async def __call__(self, binding: Binding, request: HookRequest) -> HookResponse:
        delivery = await asyncio.to_thread(self.enqueue, request)
        if delivery is not None and self._on_enqueued is not None:
            self._on_enqueued()
        return HookResponse()

    def enqueue(self, request: HookRequest) -> WebhookDelivery | None:
        """The delivery of ``request`` (None: the filter passed it over). Blocking."""
        if request.message_id is None:
            raise PluginFailed(f"plugin {self._plugin}: a webhook call needs a message id")
        plugin = self._store.get_plugin(self._plugin)
        if plugin is None:
            raise PluginFailed(f"plugin {self._plugin} is not installed")
        if not matches(request, plugin.config):
            return None
        manifest = Manifest.model_validate(plugin.manifest)
        secret = manifest.transport.auth_secret
        held = self._store.plugin_secrets(plugin.name)
        if secret is None or secret not in held:
            raise PluginFailed(f"plugin {plugin.name}: its signing secret {secret!r} is not set")
        delivery = self._store.enqueue_plugin_webhook(
            plugin.name,
            manifest.transport.entrypoint,
            held[secret][0],
            f"{request.point.value}:{request.message_id}",
            event_type(request),
            webhook_body(plugin.name, request, self._clock()),
        )
        _log.debug("plugin %s: webhook %s enqueued", plugin.name, delivery.id)
        return delivery


def webhook_transport(
    store: WebhookPluginStore, on_enqueued: Callable[[], None] | None = None
) -> Callable[[InstalledPlugin, Manifest], PluginCall]:
    """The runtime's factory for ``webhook`` plugins (``HookRuntime(transports=...)``)."""

    def build(plugin: InstalledPlugin, manifest: Manifest) -> PluginCall:
        return WebhookPlugin(store, plugin.name, on_enqueued)

    return build
