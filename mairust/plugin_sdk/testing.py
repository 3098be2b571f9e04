"""Running a plugin in a test as the platform would: the request is built for the data
scopes the plugin's manifest names (``payload.build_request``, the platform's own), so a
test sees exactly what the plugin would be given, and nothing more."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path

from mairust.hooks.manifest import load_manifest
from mairust.hooks.payload import build_request
from mairust.hooks.points import DataScope, HookPoint
from mairust.hooks.wire import HookRequest, HookResponse
from mairust.model.message import Envelope
from mairust.plugin_sdk.plugin import Config, Plugin
from mairust.plugin_sdk.state import PluginState


def test_envelope(rcpt_tos: Collection[str] = ("user@example.test",)) -> Envelope:
    """A plain envelope for tests that do not care about it."""
    return Envelope(
        mail_from="sender@example.org",
        rcpt_tos=tuple(rcpt_tos),
        received_at=datetime.now(UTC),
        helo="client.example.org",
        client_ip="192.0.2.10",
    )


test_envelope.__test__ = False  # type: ignore[attr-defined]  # not a test for pytest


async def run_plugin_async(
    plugin: Plugin,
    point: HookPoint | str,
    message: bytes | None = None,
    *,
    envelope: Envelope | None = None,
    manifest: Path | None = None,
    scopes: Collection[DataScope] | None = None,
    config: Config | None = None,
    message_id: str | None = None,
    state: PluginState | None = None,
) -> HookResponse:
    """The plugin's answer at ``point``. The scopes are the ``plugin.toml``'s in the
    ``manifest`` directory (which must declare ``point``), else ``scopes``, else the
    envelope only. ``state``: what a handler that keeps state is given."""
    request = request_for(
        point, message, envelope=envelope, manifest=manifest, scopes=scopes, message_id=message_id
    )
    return await plugin.handle(request, config or {}, state)


def request_for(
    point: HookPoint | str,
    message: bytes | None = None,
    *,
    envelope: Envelope | None = None,
    manifest: Path | None = None,
    scopes: Collection[DataScope] | None = None,
    message_id: str | None = None,
) -> HookRequest:
    """The request the platform would send at ``point`` (scopes as for
    :func:`run_plugin_async`): what a learning plugin's training examples hold, too."""
    at = HookPoint(point)
    given: Collection[DataScope] = scopes if scopes is not None else (DataScope.ENVELOPE,)
    if manifest is not None:
        declared = load_manifest(manifest)
        if at not in {hook.point for hook in declared.hooks}:
            raise ValueError(f"{manifest} does not declare the {at.value} hook")
        given = declared.scopes
    return build_request(at, given, envelope or test_envelope(), message, message_id=message_id)


def run_plugin(
    plugin: Plugin,
    point: HookPoint | str,
    message: bytes | None = None,
    *,
    envelope: Envelope | None = None,
    manifest: Path | None = None,
    scopes: Collection[DataScope] | None = None,
    config: Config | None = None,
    message_id: str | None = None,
    state: PluginState | None = None,
) -> HookResponse:
    """:func:`run_plugin_async` for a test without an event loop of its own."""
    return asyncio.run(
        run_plugin_async(
            plugin,
            point,
            message,
            envelope=envelope,
            manifest=manifest,
            scopes=scopes,
            config=config,
            message_id=message_id,
            state=state,
        )
    )
