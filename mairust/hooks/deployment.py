"""Serve plugins as running applications, seen from the core (no Ray here, DESIGN §4).

A plugin with ``transport.kind = "serve"`` runs as its own Ray Serve application. What runs
follows the metadata store, which is the truth: :class:`PluginReconciler` compares the
enabled serve plugins (version, configuration, autoscaling, resources) with what a
:class:`PluginDeployer` has running, deploys what is missing or changed and removes what
is no longer wanted. ``mairust up`` runs it at start and then every few seconds, so an
install, enable, configure, upgrade or uninstall (over the API or the CLI, which writes the
store directly) takes effect without a restart. The deployer itself lives outside the core
(``serve.plugin_deployment``).

A learning plugin's newest trained model (``plugin_models``) is part of what runs: a new
version is deployed like a new configuration, the model handed to every replica.

A serve plugin's code (and a stdin plugin's files) is kept by :class:`PluginPackages` under
the data directory, one directory per plugin version, copied at install and upgrade from the
directory installed from: the running platform never imports from where the operator
happened to unpack it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from mairust.errors import InvalidInput
from mairust.hooks.manifest import Autoscaling, Manifest, Resources, TransportKind
from mairust.hooks.permissions import HookPermission
from mairust.model.plugins import InstalledPlugin
from mairust.storage.protocols import PluginModelStore, PluginStore

_log = logging.getLogger(__name__)

APP_PREFIX = "plugin-"
# A package is code and small data: anything larger is refused at install.
MAX_PACKAGE_BYTES = 50 * 1024 * 1024
_SKIPPED = shutil.ignore_patterns("__pycache__", "*.pyc", ".git", ".venv", "tests")
# Package directories of plugins not installed (or of versions not running) are removed only
# once this old: an install or upgrade in another process copies the files before it records
# the plugin.
ORPHAN_GRACE_SECONDS = 600.0


def app_name(plugin: str) -> str:
    """The Serve application (and its handle's name) of a serve plugin."""
    return APP_PREFIX + plugin


@dataclass(frozen=True, slots=True)
class PluginApp:
    """What one serve plugin's application runs."""

    name: str
    version: str
    package: Path  # the stored package directory
    entrypoint: str  # "module:attribute" in the package
    config: dict[str, Any] = field(default_factory=dict)
    autoscaling: Autoscaling = field(default_factory=Autoscaling)
    resources: Resources = field(default_factory=Resources)
    # The manifest declares the ``state`` permission: its replicas open the metadata store
    # and hand the plugin its ``PluginState`` (part of the version: not in the fingerprint).
    state: bool = False
    # A learning plugin's newest trained model (0: none, its default) and, when deployed,
    # that model's bytes (fetched only then: the version alone says when to redeploy).
    model_version: int = 0
    model: bytes | None = field(default=None, repr=False)

    @property
    def app_name(self) -> str:
        return app_name(self.name)

    @property
    def fingerprint(self) -> str:
        """Changes whenever the running application must change."""
        state: dict[str, Any] = {
            "version": self.version,
            "package": str(self.package),
            "entrypoint": self.entrypoint,
            "config": self.config,
            "autoscaling": self.autoscaling.model_dump(mode="json"),
            "resources": self.resources.model_dump(mode="json"),
        }
        if self.model_version:  # absent for plugins that never learnt: their prints stay
            state["model_version"] = self.model_version
        return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]


class PluginDeployer(Protocol):
    """Runs serve plugins' applications."""

    def deploy(self, app: PluginApp) -> None:
        """Creates or updates ``app`` (an update switches traffic to the new replicas once
        they are up); returns when it runs. Raises when it cannot be deployed."""
        ...

    def remove(self, name: str) -> None:
        """Deletes the plugin's application (nothing when there is none)."""
        ...

    def running(self) -> dict[str, str]:
        """The plugin applications running: plugin name -> the fingerprint deployed
        ("" for one this deployer did not deploy)."""
        ...


class PluginPackages:
    """Serve and stdin plugins' files: ``<root>/<name>/<version>/``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, name: str, version: str) -> Path:
        return self.root / name / version

    def keep(self, name: str, version: str, source: Path) -> Path:
        """Copies the package in ``source`` (caches, VCS data, virtual environments and
        tests left out); InvalidInput when what is copied is larger than a package may be."""
        target = self.path(name, version)
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source, target, ignore=_SKIPPED)
        os.utime(target)  # stored now (copytree gives it the source's times)
        size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
        if size > MAX_PACKAGE_BYTES:
            shutil.rmtree(target, ignore_errors=True)
            raise InvalidInput(
                f"the plugin package in {source} holds {size} bytes (at most {MAX_PACKAGE_BYTES})"
            )
        return target

    def versions(self, name: str) -> list[str]:
        directory = self.root / name
        return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []

    def names(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir()) if self.root.is_dir() else []

    def discard(self, name: str, keep: str | None = None, older_than: float = 0.0) -> None:
        """Removes the plugin's stored versions but ``keep`` (and those stored less than
        ``older_than`` seconds ago: an upgrade in progress)."""
        now = time.time()
        for version in self.versions(name):
            path = self.path(name, version)
            if version != keep and now - path.stat().st_mtime >= older_than:
                shutil.rmtree(path, ignore_errors=True)
        directory = self.root / name
        if keep is None and directory.is_dir():
            shutil.rmtree(directory, ignore_errors=True)

    def age_seconds(self, name: str) -> float:
        return time.time() - (self.root / name).stat().st_mtime


def plugin_packages(data_dir: Path) -> PluginPackages:
    """Where a platform with this data directory keeps serve plugins' code."""
    return PluginPackages(data_dir / "plugins")


def wanted_app(
    plugin: InstalledPlugin, packages: PluginPackages, model_version: int = 0
) -> PluginApp | None:
    """The application an installed plugin should have running (None: none)."""
    manifest = Manifest.model_validate(plugin.manifest)
    if manifest.transport.kind is not TransportKind.SERVE or not plugin.enabled:
        return None
    return PluginApp(
        plugin.name,
        plugin.version,
        packages.path(plugin.name, plugin.version),
        manifest.transport.entrypoint,
        dict(plugin.config),
        manifest.autoscaling,
        manifest.resources,
        HookPermission.STATE in manifest.permissions,
        model_version,
    )


@dataclass(slots=True)
class Reconciled:
    deployed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


class PluginReconciler:
    def __init__(
        self,
        store: PluginStore,
        packages: PluginPackages,
        deployer: PluginDeployer,
        *,
        orphan_grace_seconds: float = ORPHAN_GRACE_SECONDS,
        on_change: Callable[[Reconciled], None] | None = None,
        models: PluginModelStore | None = None,
    ) -> None:
        """``models`` holds learning plugins' trained models (None: none are deployed; a
        trained plugin's replicas then run its default)."""
        self._models = models
        self._store = store
        self._packages = packages
        self._deployer = deployer
        self._grace = orphan_grace_seconds
        self._on_change = on_change
        # A deployment that failed is not tried again until the plugin changes.
        self._failed: dict[str, str] = {}

    def reconcile(self) -> Reconciled:
        """One pass: make the running applications what the store says."""
        done = Reconciled()
        installed = self._store.list_plugins()
        versions = self._models.plugin_model_versions() if self._models is not None else {}
        wanted = {app.name: app for app in _apps(installed, self._packages, versions)}
        running = self._deployer.running()
        for name in sorted(set(running) - set(wanted)):
            self._deployer.remove(name)
            done.removed.append(name)
        for name, app in sorted(wanted.items()):
            fingerprint = app.fingerprint
            if running.get(name) == fingerprint or self._failed.get(name) == fingerprint:
                continue
            try:
                self._deployer.deploy(self._with_model(app))
            except Exception as error:  # a plugin's own fault: logged, the others go on
                _log.error("plugin %s %s could not be deployed: %r", name, app.version, error)
                self._failed[name] = fingerprint
                done.failed[name] = repr(error)
                continue
            self._failed.pop(name, None)
            # Versions but the one running go: not one copied a moment ago by an upgrade
            # that has not recorded its new version yet.
            self._packages.discard(name, keep=app.version, older_than=self._grace)
            done.deployed.append(name)
            _log.info("plugin %s %s deployed as %s", name, app.version, app.app_name)
        self._forget_packages({p.name for p in installed})
        if self._on_change is not None and (done.deployed or done.removed or done.failed):
            self._on_change(done)
        return done

    def _with_model(self, app: PluginApp) -> PluginApp:
        if self._models is None or app.model_version == 0:
            return app
        stored = self._models.get_plugin_model(app.name, app.model_version)
        if stored is None:  # pruned by newer trainings since the versions were read
            raise LookupError(f"plugin {app.name}'s state {app.model_version} is gone")
        return replace(app, model=stored.model)

    def _forget_packages(self, installed: set[str]) -> None:
        for name in self._packages.names():
            if name not in installed and self._packages.age_seconds(name) > self._grace:
                _log.info("removing the stored package of uninstalled plugin %s", name)
                self._packages.discard(name)


def _apps(
    installed: Iterable[InstalledPlugin], packages: PluginPackages, versions: dict[str, int]
) -> list[PluginApp]:
    apps = []
    for plugin in installed:
        app = wanted_app(plugin, packages, versions.get(plugin.name, 0))
        if app is not None:
            apps.append(app)
    return apps
