"""PluginSync on a real loopback Ray and Serve: what the store says about serve plugins is
what runs — installed (before start), configured, upgraded (the same application, the new
version answering), disabled (its application deleted) — and stop deletes the rest."""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from ray import serve

from cluster.plugin_sync import PluginSync
from mairust.config import Settings
from mairust.hooks.chain import Binding
from mairust.hooks.deployment import app_name, plugin_packages
from mairust.hooks.points import DataScope, HookPoint
from mairust.hooks.wire import HookRequest, HookResponse
from mairust.model.principal import Principal
from mairust.services.application import Application
from mairust.storage.factory import migrate, open_stores
from serve.plugin_transport import ServePlugin
from tests.support.serve_plugins import ray_with_serve

ADMIN = Principal.platform("test", "127.0.0.1")
HEADER_RULES = Path(__file__).resolve().parents[2] / "plugins" / "header_rules"
BINDING = Binding("header-rules", HookPoint.PRE_RECEIVE)
REQUEST = HookRequest(
    point=HookPoint.PRE_RECEIVE, scopes=[DataScope.HEADERS], headers=[("Subject", "pills")]
)


def ask() -> HookResponse:
    return asyncio.run(ServePlugin("header-rules")(BINDING, REQUEST))


def eventually(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    ends = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < ends, f"{what}: not within {timeout} s"
        time.sleep(0.2)


def test_the_running_plugins_follow_the_store(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    migrate(settings.storage)
    stores = open_stores(settings.storage)
    plugins = Application.over(
        stores, (b"k" * 32,), plugin_packages=plugin_packages(settings.data_dir)
    ).plugins
    rule = {"header": "subject", "pattern": "pills", "action": "tag", "tag": "v1"}
    plugins.install(ADMIN, str(HEADER_RULES))
    plugins.change(ADMIN, "header-rules", config={"rules": [rule]})
    try:
        with ray_with_serve(tmp_path / "ray"):
            sync = PluginSync(settings, interval=0.2)
            sync.start()  # the first pass is done when start returns
            try:
                assert ask().tags == ["v1"]

                plugins.change(ADMIN, "header-rules", config={"rules": [{**rule, "tag": "v2"}]})
                eventually(lambda: ask().tags == ["v2"], "the new configuration")

                newer = tmp_path / "header_rules_2"
                newer.mkdir()
                (newer / "plugin.py").write_text(
                    (HEADER_RULES / "plugin.py")
                    .read_text()
                    .replace('reason="header rules matched"', 'reason="1.1.0 matched"')
                )
                manifest = (HEADER_RULES / "plugin.toml").read_text()
                (newer / "plugin.toml").write_text(
                    manifest.replace('version = "1.0.0"', 'version = "1.1.0"')
                )
                plugins.upgrade(ADMIN, "header-rules", str(newer))
                eventually(lambda: ask().reason == "1.1.0 matched", "the upgraded version")

                plugins.change(ADMIN, "header-rules", enabled=False)
                eventually(
                    lambda: app_name("header-rules") not in serve.status().applications,
                    "the disabled plugin's application deleted",
                )
                plugins.change(ADMIN, "header-rules", enabled=True)
                eventually(
                    lambda: app_name("header-rules") in serve.status().applications,
                    "the enabled plugin deployed again",
                )
            finally:
                sync.stop()
            assert app_name("header-rules") not in serve.status().applications
    finally:
        stores.close()
