"""The serve plugins' reconciler over a real embedded store: enabled serve plugins are
deployed from their stored packages, a changed configuration or version is deployed again,
a disabled or uninstalled one is removed, a deployment that fails is not retried until the
plugin changes, packages of uninstalled plugins go after their grace period, and a learning
plugin's new trained model is deployed with it.

The deployer here records what it is asked (it stands for Ray Serve, which
tests/serve/test_plugin_deployment.py runs for real)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mairust.config import Settings
from mairust.errors import InvalidInput
from mairust.hooks.deployment import (
    PluginApp,
    PluginPackages,
    PluginReconciler,
    app_name,
    plugin_packages,
)
from mairust.model.plugin_models import PluginModel
from mairust.model.principal import Principal
from mairust.services.application import Application
from mairust.storage.factory import open_stores
from mairust.storage.stores import Stores
from tests.support.sqlite_template import migrate_for_test

ADMIN = Principal.platform("test", "127.0.0.1")
HEADER_RULES = Path(__file__).resolve().parents[3] / "plugins" / "header_rules"
SPAM_FILTER = HEADER_RULES.parent / "spam_filter"
HTTP_PLUGIN = """
[plugin]
name = "outside"
version = "1.0.0"
description = "an http plugin"
author = "tests"
license = "MIT"

[transport]
kind = "http"
entrypoint = "http://127.0.0.1:9/hook"

[[hooks]]
point = "connect"
"""


class RecordingDeployer:
    def __init__(self, failing: frozenset[str] = frozenset()) -> None:
        self.apps: dict[str, PluginApp] = {}
        self.deploys: list[tuple[str, str]] = []
        self.failing = failing

    def deploy(self, app: PluginApp) -> None:
        self.deploys.append((app.name, app.version))
        if app.name in self.failing:
            raise RuntimeError("replica constructor failed")
        self.apps[app.name] = app

    def remove(self, name: str) -> None:
        self.apps.pop(name, None)

    def running(self) -> dict[str, str]:
        return {name: app.fingerprint for name, app in self.apps.items()}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def stores(settings: Settings) -> Iterator[Stores]:
    migrate_for_test(settings.storage)
    opened = open_stores(settings.storage)
    yield opened
    opened.close()


@pytest.fixture
def packages(settings: Settings) -> PluginPackages:
    return plugin_packages(settings.data_dir)


@pytest.fixture
def application(stores: Stores, packages: PluginPackages) -> Application:
    return Application.over(stores, (b"k" * 32,), plugin_packages=packages)


def test_an_installed_serve_plugin_is_deployed_from_its_stored_package(
    stores: Stores, packages: PluginPackages, application: Application, tmp_path: Path
) -> None:
    application.plugins.install(ADMIN, str(HEADER_RULES))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "plugin.toml").write_text(HTTP_PLUGIN)
    application.plugins.install(ADMIN, str(outside))
    deployer = RecordingDeployer()
    reconciler = PluginReconciler(stores.metadata, packages, deployer)

    done = reconciler.reconcile()
    assert done.deployed == ["header-rules"]  # the http plugin has nothing to deploy
    app = deployer.apps["header-rules"]
    assert app.app_name == app_name("header-rules") == "plugin-header-rules"
    assert app.package == packages.path("header-rules", "1.0.0")
    assert (app.package / "plugin.py").is_file() and (app.package / "plugin.toml").is_file()
    assert (app.entrypoint, app.autoscaling.max_replicas, app.resources.num_cpus) == (
        "plugin:plugin",
        2,
        0,
    )
    # Nothing changed: nothing is deployed again.
    assert reconciler.reconcile().deployed == []
    assert deployer.deploys == [("header-rules", "1.0.0")]


def test_configure_disable_and_uninstall_follow_the_store(
    stores: Stores, packages: PluginPackages, application: Application
) -> None:
    application.plugins.install(ADMIN, str(HEADER_RULES))
    deployer = RecordingDeployer()
    reconciler = PluginReconciler(stores.metadata, packages, deployer, orphan_grace_seconds=0)
    reconciler.reconcile()

    rules = [{"header": "subject", "pattern": "x", "action": "tag", "tag": "x"}]
    application.plugins.change(ADMIN, "header-rules", config={"rules": rules})
    assert reconciler.reconcile().deployed == ["header-rules"]
    assert deployer.apps["header-rules"].config == {"rules": rules}

    application.plugins.change(ADMIN, "header-rules", enabled=False)
    assert reconciler.reconcile().removed == ["header-rules"]
    assert deployer.apps == {}
    assert packages.versions("header-rules") == ["1.0.0"]  # kept for when it is enabled

    application.plugins.uninstall(ADMIN, "header-rules")
    reconciler.reconcile()
    assert packages.names() == []


def test_an_upgrade_deploys_the_new_version_and_drops_the_old_package(
    stores: Stores, packages: PluginPackages, application: Application, tmp_path: Path
) -> None:
    application.plugins.install(ADMIN, str(HEADER_RULES))
    deployer = RecordingDeployer()
    reconciler = PluginReconciler(stores.metadata, packages, deployer, orphan_grace_seconds=0)
    reconciler.reconcile()
    newer = tmp_path / "header_rules_2"
    newer.mkdir()
    for source in HEADER_RULES.glob("*.py"):
        (newer / source.name).write_text(source.read_text())
    manifest = (HEADER_RULES / "plugin.toml").read_text()
    (newer / "plugin.toml").write_text(manifest.replace('version = "1.0.0"', 'version = "1.1.0"'))

    application.plugins.upgrade(ADMIN, "header-rules", str(newer))
    assert packages.versions("header-rules") == ["1.0.0", "1.1.0"]
    assert reconciler.reconcile().deployed == ["header-rules"]
    assert deployer.apps["header-rules"].version == "1.1.0"
    assert packages.versions("header-rules") == ["1.1.0"]


def test_a_failed_deployment_waits_for_a_change(
    stores: Stores, packages: PluginPackages, application: Application
) -> None:
    application.plugins.install(ADMIN, str(HEADER_RULES))
    deployer = RecordingDeployer(failing=frozenset({"header-rules"}))
    reconciler = PluginReconciler(stores.metadata, packages, deployer)
    assert "replica constructor failed" in reconciler.reconcile().failed["header-rules"]
    assert reconciler.reconcile().failed == {}  # not tried again as it is
    application.plugins.change(ADMIN, "header-rules", config={"rules": []})
    assert "header-rules" in reconciler.reconcile().failed
    assert len(deployer.deploys) == 2


def test_a_version_copied_by_an_upgrade_in_progress_is_left_alone(
    stores: Stores, packages: PluginPackages, application: Application
) -> None:
    """The upgrade copies the new version, then records it: a pass in between (here: a
    configuration change deployed) must not take the new files away."""
    application.plugins.install(ADMIN, str(HEADER_RULES))
    reconciler = PluginReconciler(stores.metadata, packages, RecordingDeployer())
    reconciler.reconcile()
    packages.keep("header-rules", "1.1.0", HEADER_RULES)  # copied, not recorded yet
    application.plugins.change(ADMIN, "header-rules", config={"rules": []})
    assert reconciler.reconcile().deployed == ["header-rules"]
    assert packages.versions("header-rules") == ["1.0.0", "1.1.0"]


def test_a_fresh_package_of_a_plugin_not_yet_recorded_is_left_alone(
    stores: Stores, packages: PluginPackages
) -> None:
    """An install in another process copies the files before it records the plugin."""
    packages.keep("header-rules", "1.0.0", HEADER_RULES)
    PluginReconciler(stores.metadata, packages, RecordingDeployer()).reconcile()
    assert packages.versions("header-rules") == ["1.0.0"]
    PluginReconciler(
        stores.metadata, packages, RecordingDeployer(), orphan_grace_seconds=0
    ).reconcile()
    assert packages.names() == []


def test_a_package_is_copied_without_caches_and_within_its_size(
    packages: PluginPackages, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "source"
    (source / "__pycache__").mkdir(parents=True)
    (source / "__pycache__" / "plugin.cpython-311.pyc").write_bytes(b"x" * 5000)
    (source / ".git").mkdir()
    (source / ".git" / "HEAD").write_bytes(b"x" * 5000)
    (source / "plugin.py").write_text("plugin = None\n")
    monkeypatch.setattr("mairust.hooks.deployment.MAX_PACKAGE_BYTES", 1000)
    kept = packages.keep("small", "1.0.0", source)  # the caches alone are above the limit
    assert sorted(p.name for p in kept.iterdir()) == ["plugin.py"]

    (source / "data.bin").write_bytes(b"x" * 2000)
    with pytest.raises(InvalidInput, match="holds 2014 bytes"):
        packages.keep("small", "1.0.1", source)
    assert packages.versions("small") == ["1.0.0"]


def test_a_new_trained_state_rolls_the_plugin_onto_it(
    stores: Stores, packages: PluginPackages, application: Application
) -> None:
    application.plugins.install(ADMIN, str(SPAM_FILTER))
    deployer = RecordingDeployer()
    reconciler = PluginReconciler(stores.metadata, packages, deployer, models=stores.metadata)
    assert reconciler.reconcile().deployed == ["spam-filter"]
    first = deployer.apps["spam-filter"]
    assert (first.model_version, first.model) == (0, None)  # untrained: its default
    trained = PluginModel("spam-filter", 1, b"counts", 3, "api", datetime.now(UTC))
    stores.metadata.add_plugin_model(trained)
    assert reconciler.reconcile().deployed == ["spam-filter"]
    second = deployer.apps["spam-filter"]
    assert (second.model_version, second.model) == (1, b"counts")
    assert second.fingerprint != first.fingerprint
    assert reconciler.reconcile().deployed == []  # the same state: nothing to roll
