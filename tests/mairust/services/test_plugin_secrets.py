"""A plugin's secrets through the service (real embedded stores, a real keyring): set,
listed without values, replaced and deleted with their sealed rows, revealed only to the
platform; a plugin that names secrets stays off until they are set; no tenant sees them."""

from __future__ import annotations

from pathlib import Path

import pytest

from mairust.errors import Forbidden, InvalidInput, NotFound
from mairust.model.principal import Permission, Principal, Role
from mairust.model.scope import PLATFORM, TenantScope
from mairust.secrets.keyring import Keyring
from mairust.secrets.vault import SecretVault
from mairust.services.application import Application
from mairust.storage.sql_schema import secrets
from tests.mairust.services.conftest import ADMIN, TOKEN_KEYS

MANIFEST = """
secrets = ["api-key", "region"]

[plugin]
name = "ai-tagger"
version = "{version}"
description = "Tags mail with a model behind an API key."
author = "tests"
license = "MIT"

[transport]
kind = "http"
entrypoint = "http://127.0.0.1:9/tag"
auth_secret = "api-key"

[[hooks]]
point = "rcpt_to"
"""


def plugin_dir(base: Path, version: str = "1.0.0", manifest: str = MANIFEST) -> str:
    directory = base / f"v{version}"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "plugin.toml").write_text(manifest.format(version=version))
    return str(directory)


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.from_bytes(b"k" * 32)


@pytest.fixture
def application(stores, clock, keyring) -> Application:
    return Application.over(stores, TOKEN_KEYS, clock, keyring=keyring)


def sealed_rows(stores) -> int:
    with stores.metadata._db.read() as conn:  # the table itself: no value left behind
        return len(conn.execute(secrets.select()).all())


def test_set_list_replace_reveal_and_delete(application, stores, tmp_path):
    service = application.plugin_secrets
    plugin = application.plugins.install(ADMIN, plugin_dir(tmp_path))
    assert plugin.enabled is False  # it names secrets: off until they are set
    with pytest.raises(InvalidInput, match="needs its secrets set first: api-key, region"):
        application.plugins.change(ADMIN, "ai-tagger", enabled=True)
    service.set(ADMIN, "ai-tagger", "api-key", b"sk-first")
    service.set(ADMIN, "ai-tagger", "api-key", b"sk-second")  # replaces; the old row goes
    service.set(ADMIN, "ai-tagger", "region", b"eu")
    assert sealed_rows(stores) == 2
    states = {s.name: s for s in service.states(ADMIN, "ai-tagger")}
    assert set(states) == {"api-key", "region"}
    assert all(s.declared and s.set_at is not None for s in states.values())
    assert "sk-second" not in repr(states)
    assert service.values("ai-tagger") == {"api-key": "sk-second", "region": "eu"}
    assert application.plugins.change(ADMIN, "ai-tagger", enabled=True).enabled
    service.delete(ADMIN, "ai-tagger", "region")
    assert sealed_rows(stores) == 1
    assert application.plugins.get_plugin(ADMIN, "ai-tagger").enabled is False  # needs it
    assert service.states(ADMIN, "ai-tagger")[1].set_at is None
    application.plugins.uninstall(ADMIN, "ai-tagger")
    assert sealed_rows(stores) == 0


def test_refusals(application, stores, tmp_path):
    service = application.plugin_secrets
    application.plugins.install(ADMIN, plugin_dir(tmp_path))
    with pytest.raises(InvalidInput, match="does not name a secret 'other'"):
        service.set(ADMIN, "ai-tagger", "other", b"x")
    with pytest.raises(NotFound):
        service.set(ADMIN, "missing", "api-key", b"x")
    with pytest.raises(NotFound):
        service.delete(ADMIN, "ai-tagger", "api-key")  # not set
    tenant = stores.metadata.create_tenant("t")
    admin_of_tenant = Principal(
        Role.TENANT_ADMIN, TenantScope(tenant.id), frozenset(Permission), "t-admin"
    )
    with pytest.raises(Forbidden):
        service.set(admin_of_tenant, "ai-tagger", "api-key", b"x")
    with pytest.raises(Forbidden):
        service.states(admin_of_tenant, "ai-tagger")
    assert sealed_rows(stores) == 0


def test_no_tenant_sees_platform_secrets_and_rotation_reseals_them(
    application, stores, keyring, tmp_path
):
    application.plugins.install(ADMIN, plugin_dir(tmp_path))
    application.plugin_secrets.set(ADMIN, "ai-tagger", "api-key", b"sk-1")
    tenant = stores.metadata.create_tenant("t")
    vault = SecretVault(stores.metadata, keyring)
    assert vault.list(TenantScope(tenant.id)) == []
    [ref] = vault.list(PLATFORM)
    assert ref.tenant_id is None
    rotated = SecretVault(stores.metadata, Keyring.from_bytes(b"n" * 32, [b"k" * 32]))
    assert rotated.rotate().resealed == 1
    assert rotated.reveal(PLATFORM, ref.id) == b"sk-1"


def test_without_a_keyring_secrets_cannot_be_set(stores, clock, tmp_path):
    application = Application.over(stores, TOKEN_KEYS, clock)
    application.plugins.install(ADMIN, plugin_dir(tmp_path))
    with pytest.raises(InvalidInput, match="no secret key configured"):
        application.plugin_secrets.set(ADMIN, "ai-tagger", "api-key", b"x")


def test_an_upgrade_naming_a_new_secret_switches_the_plugin_off(application, tmp_path):
    application.plugins.install(ADMIN, plugin_dir(tmp_path))
    for name, value in (("api-key", b"k"), ("region", b"eu")):
        application.plugin_secrets.set(ADMIN, "ai-tagger", name, value)
    application.plugins.change(ADMIN, "ai-tagger", enabled=True)
    more = MANIFEST.replace('"region"]', '"region", "org"]')
    upgraded = application.plugins.upgrade(ADMIN, "ai-tagger", plugin_dir(tmp_path, "1.1.0", more))
    assert upgraded.enabled is False
