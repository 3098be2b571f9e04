"""Keeps the serve plugins' Serve applications as the metadata store says, for one
``mairust up``: one pass at start (before the platform says it is ready), then one every
``SYNC_SECONDS`` in a thread of the driver, so a plugin installed, enabled, configured,
upgraded or uninstalled over the API or the CLI runs (or stops) within seconds. At stop,
the plugin applications are deleted before Ray goes (their replicas drain)."""

from __future__ import annotations

import logging
import threading
from functools import partial

from cluster.loopback import bind_serve_grpc_to_node_ip
from mairust.config import Settings
from mairust.hooks.deployment import PluginReconciler, plugin_packages
from mairust.storage.factory import open_plugin_state, open_stores
from mairust.storage.stores import Stores
from serve.plugin_deployment import ServePluginDeployer

_log = logging.getLogger(__name__)

SYNC_SECONDS = 2.0


class PluginSync:
    def __init__(
        self, settings: Settings, log_level: str = "WARNING", interval: float = SYNC_SECONDS
    ) -> None:
        self._settings = settings
        self._interval = interval
        # Plugin replicas' gRPC servers on the node's IP (loopback), never on [::]; a plugin
        # that keeps state opens the metadata store in each of its replicas.
        self.deployer = ServePluginDeployer(
            log_level, bind_serve_grpc_to_node_ip, partial(open_plugin_state, settings.storage)
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stores: Stores | None = None
        self._reconciler: PluginReconciler | None = None

    def start(self) -> None:
        """One pass now (Serve must be started), then the loop in a thread."""
        # Opened once: the engine's pool serves both threads.
        self._stores = open_stores(self._settings.storage)
        self._reconciler = PluginReconciler(
            self._stores.metadata,
            plugin_packages(self._settings.data_dir),
            self.deployer,
            models=self._stores.metadata,
        )
        self._pass()
        self._thread = threading.Thread(target=self._loop, name="plugin-sync", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._pass()

    def _pass(self) -> None:
        assert self._reconciler is not None, "start() first"
        try:
            self._reconciler.reconcile()
        except Exception as error:  # the next pass tries again; the platform runs on
            _log.warning("serve plugins not brought in line with the store: %r", error)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        try:
            for name in self.deployer.running():
                self.deployer.remove(name)
        except Exception as error:  # Serve is gone already: Ray's shutdown ends the rest
            _log.debug("deleting the plugin applications: %r", error)
        if self._stores is not None:
            self._stores.close()
