"""Serve plugins: each one its own Ray Serve application, and the deployer that runs them.

A replica loads the plugin's SDK ``Plugin`` from its stored package and answers hook
requests in batches: each caller sends what it has in one Serve call (``many``), and the
requests of all callers meet in ``@serve.batch``, so a burst becomes a few calls of the
plugin's batch, never one Serve round per message (DESIGN §7). Requests and answers cross
as JSON text (the wire models), so a replica depends on the wire version, not on pickled
classes. The plugin's configuration is Serve's ``user_config`` (``reconfigure``). Each
``serve.run`` of an application built in Python is a new code version to Serve 2.60 (it
has no ``version`` option any more), so a new configuration rolls the replicas: new ones
start, traffic switches, the old ones stop. Replicas scale with the manifest's
``autoscaling`` and reserve its ``resources``. A plugin whose manifest declares the
``state`` permission gets its ``PluginState``: each of its replicas opens the metadata
store with the deployer's ``state_opener`` (the settings' storage URL; the replica is a
process of its own, so it opens its own connection pool, as every actor does).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ray import serve

from mairust.hooks.deployment import APP_PREFIX, PluginApp
from mairust.hooks.manifest import Autoscaling
from mairust.hooks.wire import HookRequest
from mairust.plugin_sdk.loading import load_plugin
from mairust.plugin_sdk.plugin import Plugin
from mairust.plugin_sdk.state import PluginState
from mairust.storage.protocols import PluginStateStore

_log = logging.getLogger(__name__)

DEPLOYMENT = "plugin"
HEALTH_CHECK_PERIOD_S = 30.0
# Opens the store a replica keeps its plugin's state in (picklable: it crosses to Ray).
StateOpener = Callable[[], PluginStateStore]


@serve.deployment(name=DEPLOYMENT)
class PluginReplica:
    """One replica of one serve plugin."""

    def __init__(
        self,
        package: str,
        entrypoint: str,
        name: str,
        max_batch_size: int,
        batch_wait_s: float,
        replica_setup: Callable[[], None] | None = None,
        state_opener: StateOpener | None = None,
        model: bytes | None = None,
    ) -> None:
        if replica_setup is not None:  # first: before Serve opens this replica's gRPC port
            replica_setup()
        self._plugin: Plugin = load_plugin(Path(package), entrypoint, name)
        # Open for the replica's life (its process ends with it).
        self._state = PluginState(state_opener(), name) if state_opener is not None else None
        # A learning plugin's newest trained model (None: its default), before any call.
        self._plugin.load_model(model)
        self._config: dict[str, Any] = {}
        batched: Any = self._batched  # serve.batch's wrapper: its limits set per plugin
        batched.set_max_batch_size(max_batch_size)
        batched.set_batch_wait_timeout_s(batch_wait_s)
        self.requests = 0
        self.batches = 0

    def reconfigure(self, config: dict[str, Any]) -> None:
        self._config = dict(config)

    async def __call__(self, request: str) -> dict[str, str]:
        """``{"response": HookResponse JSON}`` or ``{"error": what went wrong}``."""
        answer: dict[str, str] = await self._batched(request)
        return answer

    async def many(self, requests: list[str]) -> list[dict[str, str]]:
        """A caller's batch (``serve.plugin_transport`` sends one per event-loop turn); its
        requests join the replica's batches with those of the other callers."""
        return list(await asyncio.gather(*(self._batched(request) for request in requests)))

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.002)
    async def _batched(self, requests: list[str]) -> list[dict[str, str]]:
        self.batches += 1
        self.requests += len(requests)
        return list(await asyncio.gather(*(self._one(request) for request in requests)))

    async def _one(self, text: str) -> dict[str, str]:
        try:
            request = HookRequest.model_validate_json(text)
            answer = await self._plugin.handle(request, self._config, self._state)
        except Exception as error:  # the platform applies the plugin's on_error
            _log.warning("plugin %s failed: %r", self._plugin.name, error)
            return {"error": repr(error)}
        return {"response": answer.model_dump_json()}

    async def stats(self) -> dict[str, int]:
        """This replica's requests and the batches they came in (for tests and metrics)."""
        return {"requests": self.requests, "batches": self.batches}


def build_plugin_app(
    app: PluginApp,
    log_level: str = "WARNING",
    replica_setup: Callable[[], None] | None = None,
    state_opener: StateOpener | None = None,
) -> Any:
    """The bound Serve application of one serve plugin; each replica runs ``replica_setup``
    first (``mairust up`` binds the replica's gRPC server to the node's loopback IP), and
    opens its state store with ``state_opener`` if the plugin keeps state."""
    deployment: Any = PluginReplica  # a serve.Deployment once decorated
    scaling = app.autoscaling
    options: dict[str, Any] = {
        "ray_actor_options": {
            "num_cpus": app.resources.num_cpus,
            "num_gpus": app.resources.num_gpus,
        },
        "max_ongoing_requests": scaling.max_ongoing_requests,
        "user_config": app.config,
        "health_check_period_s": HEALTH_CHECK_PERIOD_S,
        "logging_config": {"log_level": log_level},
    }
    if scaling.min_replicas == scaling.max_replicas:
        # A fixed size: nothing for Serve's controller to recompute every loop.
        options["num_replicas"] = scaling.min_replicas
    else:
        options["autoscaling_config"] = autoscaling_config(scaling)
    return deployment.options(**options).bind(
        str(app.package),
        app.entrypoint,
        app.name,
        scaling.max_batch_size,
        scaling.batch_wait_ms / 1000.0,
        replica_setup,
        state_opener if app.state else None,
        app.model,
    )


def autoscaling_config(scaling: Autoscaling) -> dict[str, Any]:
    return {
        "min_replicas": scaling.min_replicas,
        "initial_replicas": max(scaling.min_replicas, 1),
        "max_replicas": scaling.max_replicas,
        "target_ongoing_requests": scaling.target_ongoing_requests,
        "upscale_delay_s": scaling.upscale_delay_s,
        "downscale_delay_s": scaling.downscale_delay_s,
        "look_back_period_s": scaling.look_back_period_s,
    }


class ServePluginDeployer:
    """The core's ``PluginDeployer`` on Ray Serve (Serve must be started)."""

    def __init__(
        self,
        log_level: str = "WARNING",
        replica_setup: Callable[[], None] | None = None,
        state_opener: StateOpener | None = None,
    ) -> None:
        """``state_opener``: how replicas of plugins that keep state open their store (None:
        such a plugin's stateful handlers fail, and get the binding's ``on_error``)."""
        self._log_level = log_level
        self._replica_setup = replica_setup
        self._state_opener = state_opener
        self._fingerprints: dict[str, str] = {}
        self._strays_found = False

    def deploy(self, app: PluginApp) -> None:
        serve.run(
            build_plugin_app(app, self._log_level, self._replica_setup, self._state_opener),
            name=app.app_name,
            route_prefix=None,  # reached by handle only, never over Serve's HTTP proxy
            logging_config={"log_level": self._log_level},
        )
        self._fingerprints[app.name] = app.fingerprint

    def remove(self, name: str) -> None:
        self._fingerprints.pop(name, None)
        serve.delete(APP_PREFIX + name)
        _log.info("plugin %s: its Serve application is deleted", name)

    def running(self) -> dict[str, str]:
        """What this deployer runs; the first call also finds plugin applications it did
        not deploy (a joined cluster that outlived an earlier driver). Serve's status is
        not asked on every pass: it is one of its controller's heavier calls."""
        if not self._strays_found:
            for app in serve.status().applications:
                if app.startswith(APP_PREFIX):
                    self._fingerprints.setdefault(app[len(APP_PREFIX) :], "")
            self._strays_found = True
        return dict(self._fingerprints)
