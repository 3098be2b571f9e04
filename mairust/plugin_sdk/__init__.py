"""The plugin SDK: what a Python plugin imports, and nothing else of the platform.

A plugin is a :class:`Plugin` with one handler per hook point it declares; a handler takes
the :class:`HookRequest` (only the data scopes its manifest names) and the plugin's
configuration, and answers a :class:`HookResponse`, best made with the verdict helpers::

    from mairust.plugin_sdk import HookRequest, Plugin, reject, proceed

    plugin = Plugin("no-spam")

    @plugin.pre_receive
    def check(request: HookRequest, config: Config) -> HookResponse:
        return reject("spam") if ... else proceed()

The same object runs as a Ray Serve deployment (``transport.kind = "serve"``), behind
:func:`serve_http` (``http``), and in tests through :func:`run_plugin`.
"""

from mairust.hooks.points import DataScope, HookPoint
from mairust.hooks.wire import (
    AttachmentView,
    EnvelopeEdit,
    EnvelopeView,
    HeaderEdit,
    HookRequest,
    HookResponse,
)
from mairust.model.message import Envelope
from mairust.model.verdict import VerdictKind
from mairust.plugin_sdk.http_server import serve_http
from mairust.plugin_sdk.learning import TrainingExample
from mairust.plugin_sdk.plugin import Config, Handler, NoHandler, NoState, Plugin
from mairust.plugin_sdk.state import PluginState
from mairust.plugin_sdk.testing import request_for, run_plugin, run_plugin_async
from mairust.plugin_sdk.text import plain_text
from mairust.plugin_sdk.verdicts import (
    accept,
    add_header,
    discard,
    proceed,
    quarantine,
    reject,
    tag,
    tempfail,
)

__all__ = [
    "AttachmentView",
    "Config",
    "DataScope",
    "Envelope",
    "EnvelopeEdit",
    "EnvelopeView",
    "Handler",
    "HeaderEdit",
    "HookPoint",
    "HookRequest",
    "HookResponse",
    "NoHandler",
    "NoState",
    "Plugin",
    "PluginState",
    "TrainingExample",
    "VerdictKind",
    "accept",
    "add_header",
    "discard",
    "plain_text",
    "proceed",
    "quarantine",
    "reject",
    "request_for",
    "run_plugin",
    "run_plugin_async",
    "serve_http",
    "tag",
    "tempfail",
]
