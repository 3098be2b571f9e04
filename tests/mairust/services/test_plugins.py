"""PluginService: install from a directory (bindings from the manifest), configure against
the plugin's schema, switch on and off, upgrade, uninstall; bind, change and unbind at
declared points only; the platform admin only; audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mairust.errors import Conflict, Forbidden, InvalidInput, NotFound
from mairust.hooks.chain import BindingMode
from mairust.hooks.manifest import ManifestError
from mairust.hooks.points import HookPoint
from mairust.model.ids import new_id
from mairust.model.plugins import HookCall
from mairust.model.principal import Permission, Principal, Role
from mairust.model.scope import TenantScope
from mairust.services import plugins
from mairust.services.plugins import (
    NewBinding,
    expire_plugin_calls,
    sweep_expired_plugin_state,
)
from tests.mairust.services.conftest import ADMIN

MANIFEST = """
scopes = ["envelope"]
permissions = ["reject"]

[plugin]
name = "recipient-policy"
version = "{version}"
description = "Refuses recipients by rule."
author = "tests"
license = "MIT"

[transport]
kind = "http"
entrypoint = "http://127.0.0.1:9/policy"

{hooks}

[config_schema]
type = "object"
required = {required}
properties = {{ blocked = {{ type = "array", items = {{ type = "string" }} }} }}
"""
BOTH_HOOKS = '[[hooks]]\npoint = "rcpt_to"\npriority = 5\n\n[[hooks]]\npoint = "mail_from"\n'


def plugin_dir(
    base: Path, version: str = "1.0.0", hooks: str = BOTH_HOOKS, required: str = "[]"
) -> str:
    directory = base / f"v{version}"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "plugin.toml").write_text(
        MANIFEST.format(version=version, hooks=hooks, required=required)
    )
    return str(directory)


def test_install_binds_the_declared_points_and_audits(application, tmp_path):
    plugin = application.plugins.install(ADMIN, plugin_dir(tmp_path))
    assert (plugin.name, plugin.version, plugin.enabled) == ("recipient-policy", "1.0.0", True)
    bindings = application.plugins.list_bindings(ADMIN)
    assert sorted((b.point, b.priority, b.mode) for b in bindings) == [
        ("mail_from", 100, "enforce"),
        ("rcpt_to", 5, "enforce"),
    ]
    assert [b.point for b in application.plugins.list_bindings(ADMIN, HookPoint.RCPT_TO)] == [
        "rcpt_to"
    ]
    with pytest.raises(Conflict):
        application.plugins.install(ADMIN, plugin_dir(tmp_path))
    actions = [(r.action, r.target) for r in application.audit.page(ADMIN)]
    assert ("plugin.install", "recipient-policy") in actions


def test_a_plugin_needing_configuration_waits_for_it(application, tmp_path):
    plugin = application.plugins.install(ADMIN, plugin_dir(tmp_path, required='["blocked"]'))
    assert not plugin.enabled
    with pytest.raises(InvalidInput, match="needs a configuration first"):
        application.plugins.change(ADMIN, plugin.name, enabled=True)
    with pytest.raises(InvalidInput, match="blocked/0: 7 is not of type 'string'"):
        application.plugins.change(ADMIN, plugin.name, config={"blocked": [7]})
    configured = application.plugins.change(ADMIN, plugin.name, config={"blocked": ["x@y"]})
    on = application.plugins.change(ADMIN, plugin.name, enabled=True)
    assert configured.config == {"blocked": ["x@y"]} and on.enabled
    off = application.plugins.change(ADMIN, plugin.name, enabled=False)
    assert not off.enabled and off.config == {"blocked": ["x@y"]}


def test_upgrade_keeps_bindings_at_points_still_declared(application, tmp_path):
    application.plugins.install(ADMIN, plugin_dir(tmp_path))
    only_rcpt = '[[hooks]]\npoint = "rcpt_to"\n'
    upgraded = application.plugins.upgrade(
        ADMIN, "recipient-policy", plugin_dir(tmp_path, "1.1.0", hooks=only_rcpt)
    )
    assert upgraded.version == "1.1.0"
    assert [b.point for b in application.plugins.list_bindings(ADMIN)] == ["rcpt_to"]
    with pytest.raises(Conflict):
        application.plugins.upgrade(ADMIN, "recipient-policy", plugin_dir(tmp_path, "1.1.0"))
    with pytest.raises(NotFound):
        application.plugins.upgrade(ADMIN, "other", plugin_dir(tmp_path, "2.0.0"))


def test_bindings_at_declared_points_only(application, tmp_path):
    application.plugins.install(ADMIN, plugin_dir(tmp_path))
    shadow = application.plugins.bind(
        ADMIN, NewBinding("recipient-policy", HookPoint.RCPT_TO, 1, BindingMode.SHADOW)
    )
    assert shadow.mode == "shadow" and shadow.enabled
    with pytest.raises(InvalidInput, match="does not declare the pre_receive hook"):
        application.plugins.bind(ADMIN, NewBinding("recipient-policy", HookPoint.PRE_RECEIVE))
    with pytest.raises(NotFound):
        application.plugins.bind(ADMIN, NewBinding("missing", HookPoint.RCPT_TO))
    changed = application.plugins.change_binding(
        ADMIN, shadow.id, mode=BindingMode.ENFORCE, enabled=False
    )
    assert (changed.mode, changed.enabled, changed.priority) == ("enforce", False, 1)
    application.plugins.unbind(ADMIN, shadow.id)
    with pytest.raises(NotFound):
        application.plugins.unbind(ADMIN, shadow.id)
    application.plugins.uninstall(ADMIN, "recipient-policy")
    assert application.plugins.list_plugins(ADMIN) == []
    assert application.plugins.list_bindings(ADMIN) == []


def test_a_bad_manifest_installs_nothing(application, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "plugin.toml").write_text('[plugin]\nname = "x"\n')
    with pytest.raises(ManifestError):
        application.plugins.install(ADMIN, str(broken))
    with pytest.raises(ManifestError, match="cannot read"):
        application.plugins.install(ADMIN, str(tmp_path / "nowhere"))
    assert application.plugins.list_plugins(ADMIN) == []


def test_only_the_platform_admin(application, tenants, tmp_path):
    tenant_admin = Principal(
        Role.TENANT_ADMIN, TenantScope(tenants.a.id), frozenset(Permission), "t", ""
    )
    for call in (
        lambda: application.plugins.install(tenant_admin, plugin_dir(tmp_path)),
        lambda: application.plugins.list_plugins(tenant_admin),
        lambda: application.plugins.list_bindings(tenant_admin),
    ):
        with pytest.raises(Forbidden):
            call()


def test_the_retention_job_forgets_old_calls_in_batches(stores, monkeypatch):
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    now_ms = int(now.timestamp() * 1000)
    days_ago = now_ms - 40 * 86_400_000
    old = [
        HookCall(new_id(days_ago + n), now, "rcpt_to", "p", "enforce", "ok", "", 1.0)
        for n in range(7)
    ]
    fresh = HookCall(new_id(now_ms), now, "rcpt_to", "p", "enforce", "ok", "", 1.0)
    stores.metadata.record_hook_calls([*old, fresh])
    assert expire_plugin_calls(stores.metadata, now, days=0) == 0  # 0 days: kept for ever
    monkeypatch.setattr(plugins, "_FORGET_BATCH", 3)  # 3 + 3 + 1: three transactions
    assert expire_plugin_calls(stores.metadata, now, days=30) == 7
    assert [c.id for c in stores.metadata.list_hook_calls("p")] == [fresh.id]
    assert expire_plugin_calls(stores.metadata, now, days=30) == 0


def test_a_serve_plugin_keeps_its_code_under_the_data_dir(stores, tmp_path):
    from mairust.hooks.deployment import PluginPackages
    from mairust.services.application import Application
    from tests.mairust.services.conftest import TOKEN_KEYS

    bundled = Path(__file__).resolve().parents[3] / "plugins" / "header_rules"
    # A process that cannot keep plugin code refuses serve plugins, and records nothing.
    without = Application.over(stores, TOKEN_KEYS)
    with pytest.raises(InvalidInput, match="serve plugins cannot be installed"):
        without.plugins.install(ADMIN, str(bundled))
    assert without.plugins.list_plugins(ADMIN) == []

    packages = PluginPackages(tmp_path / "kept")
    application = Application.over(stores, TOKEN_KEYS, plugin_packages=packages)
    plugin = application.plugins.install(ADMIN, str(bundled))
    assert (plugin.name, plugin.manifest["transport"]["kind"]) == ("header-rules", "serve")
    kept = packages.path("header-rules", "1.0.0")
    assert (kept / "plugin.py").read_bytes() == (bundled / "plugin.py").read_bytes()
    assert not (kept / "__pycache__").exists()


def test_a_stdin_plugin_keeps_its_files_under_the_data_dir(stores, tmp_path):
    from mairust.hooks.deployment import PluginPackages
    from mairust.services.application import Application
    from tests.mairust.services.conftest import TOKEN_KEYS

    source = tmp_path / "rules-rs"
    (source / "bin").mkdir(parents=True)
    (source / "bin" / "rules").write_bytes(b"#!/bin/sh\n")
    (source / "bin" / "rules").chmod(0o755)
    text = MANIFEST.format(version="1.0.0", hooks=BOTH_HOOKS, required="[]")
    text = text.replace('kind = "http"', 'kind = "stdin"')
    (source / "plugin.toml").write_text(text.replace("http://127.0.0.1:9/policy", "bin/rules"))
    without = Application.over(stores, TOKEN_KEYS)
    with pytest.raises(InvalidInput, match="stdin plugins cannot be installed"):
        without.plugins.install(ADMIN, str(source))

    packages = PluginPackages(tmp_path / "kept")
    application = Application.over(stores, TOKEN_KEYS, plugin_packages=packages)
    application.plugins.install(ADMIN, str(source))
    kept = packages.path("recipient-policy", "1.0.0") / "bin" / "rules"
    assert kept.read_bytes() == b"#!/bin/sh\n" and kept.stat().st_mode & 0o111


def test_the_retention_job_sweeps_expired_plugin_state_in_batches(stores, monkeypatch):
    written = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    now = written + timedelta(hours=2)
    for n in range(7):  # written while alive: no write sweeps them
        stores.metadata.put_plugin_state(
            "greylist", f"k{n}", "v", written + timedelta(hours=1), written
        )
    stores.metadata.put_plugin_state("greylist", "alive", "v", now + timedelta(days=1), written)
    monkeypatch.setattr(plugins, "_SWEEP_BATCH", 3)  # 3 + 3 + 1: three transactions
    assert sweep_expired_plugin_state(stores.metadata, now) == 7
    assert stores.metadata.get_plugin_state("greylist", "alive", now) == "v"
    assert not stores.metadata.delete_plugin_state("greylist", "k0")  # gone, not just hidden
    assert sweep_expired_plugin_state(stores.metadata, now) == 0
