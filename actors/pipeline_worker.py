"""Pipeline worker actor: runs leased batches through the core's PipelineRunner."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import ray

from actors.telemetry import ActorTelemetry
from mairust.config import Settings
from mairust.hooks.manifest import TransportKind
from mairust.hooks.runtime import HookRuntime
from mairust.log_format import configure_logging
from mairust.model.queue import QueueItem
from mairust.pipeline.hook_loop import DeliveryHooks
from mairust.pipeline.runner import BatchReport, PipelineRunner
from mairust.secrets.master_key import load_keyring
from mairust.services.hook_runtimes import platform_hook_runtime
from mairust.storage.factory import open_stores
from mairust.telemetry import TelemetrySnapshot
from serve.plugin_transport import serve_transport

_log = logging.getLogger(__name__)


class PipelineWorker:
    """One pipeline worker; each opens its own store connections."""

    def __init__(self, settings: Settings) -> None:
        configure_logging(settings.log_level, settings.log_format)
        # A dedicated process per actor: renicing it touches nothing else. niceness only
        # rises (an unprivileged process cannot lower it again), so add the difference.
        wanted = settings.cluster.pipeline_worker_nice
        os.nice(max(0, wanted - os.nice(0)))
        self._settings = settings
        self._stores = open_stores(settings.storage)
        # The pre_delivery point: its runtime (and HTTP client) is built on first need,
        # only once a pre_delivery binding exists; until then it costs a cached look-up.
        self._hooks = DeliveryHooks(self._stores.metadata, settings.hooks, self._hook_runtime)

        self._telemetry = ActorTelemetry()
        self._runner = PipelineRunner(
            self._stores, settings.queue, hooks=self._hooks, telemetry=self._telemetry.metrics
        )
        _log.info("pipeline worker ready (pid %d)", os.getpid())

    def _hook_runtime(self) -> HookRuntime:
        """Made on first need, so a node without pre_delivery bindings never loads the
        secrets key nor opens an HTTP client here."""
        runtime = platform_hook_runtime(
            self._settings,
            self._stores.metadata,
            load_keyring(self._settings),
            "pipeline",
            {TransportKind.SERVE: serve_transport},
        )
        runtime.call_observer = self._telemetry.metrics.hook_calls
        return runtime

    def process(self, items: Sequence[QueueItem], owner: str) -> BatchReport:
        return self._runner.process(items, owner)

    def telemetry_snapshot(self) -> TelemetrySnapshot:
        """This process's counters, for the API's /metrics and /api/v1/stats."""
        return self._telemetry.snapshot()

    def ping(self) -> int:
        return os.getpid()

    def niceness(self) -> int:
        return os.nice(0)

    def node_id(self) -> str:
        """The Ray node this worker runs on (where `mairust cluster up` placed it)."""
        return str(ray.get_runtime_context().get_node_id())


# Batches are at-most-once: a lost batch goes back to the queue through the dispatcher.
PipelineWorkerActor = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0)(PipelineWorker)
