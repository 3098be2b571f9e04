"""PluginDistribution over real embedded stores: a signed package installs through
PluginService (bound, audited with its origin, its code kept under the data dir); refused
packages install nothing; a package's MaiRust range is checked; from a catalog, install
by name takes the newest version this MaiRust runs, an upgrade moves to a newer one,
and a package that is not what the index promised is refused."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from mairust.errors import Forbidden, InvalidInput
from mairust.hooks.deployment import PluginPackages
from mairust.model.principal import Permission, Principal, Role
from mairust.model.scope import TenantScope
from mairust.plugin_packages.catalog import CatalogError
from mairust.plugin_packages.signing import SignatureRefused
from mairust.plugin_packages.source import CatalogSource
from mairust.services.application import Application
from mairust.services.plugin_catalog import PluginDistribution
from mairust.storage.stores import Stores
from tests.mairust.services.conftest import ADMIN, TOKEN_KEYS, Tenants
from tests.support.plugin_packages import (
    Publisher,
    catalog_of,
    header_rules_at,
    signed_package,
)


@pytest.fixture
def publisher(tmp_path: Path) -> Publisher:
    return Publisher.make(tmp_path / "keys", "acme")


@pytest.fixture
def kept(tmp_path: Path) -> PluginPackages:
    return PluginPackages(tmp_path / "data" / "plugins")


@pytest.fixture
def application(stores: Stores, kept: PluginPackages) -> Application:
    return Application.over(stores, TOKEN_KEYS, plugin_packages=kept)


def distribution(
    application: Application, publisher: Publisher, version: str = "0.1.0", **options: bool
) -> PluginDistribution:
    return PluginDistribution(
        application.plugins, publisher.trusted, mairust_version=version, **options
    )


def test_a_signed_package_installs_like_a_directory(
    application: Application, publisher: Publisher, kept: PluginPackages, tmp_path: Path
) -> None:
    package = signed_package(header_rules_at(tmp_path, "1.0.0"), tmp_path / "out", publisher)
    plugin = distribution(application, publisher).install_file(ADMIN, package)
    assert (plugin.name, plugin.version, plugin.enabled) == ("header-rules", "1.0.0", True)
    assert [b.point for b in application.plugins.list_bindings(ADMIN)] == ["pre_receive"]
    assert (kept.path("header-rules", "1.0.0") / "plugin.py").is_file()
    [entry] = [r for r in application.audit.page(ADMIN) if r.action == "plugin.install"]
    origin = (entry.details or {})["from"]
    assert origin.startswith("header-rules-1.0.0.tar.gz (sha256 ")
    assert origin.endswith("signed by acme)")


def test_refused_packages_install_nothing(
    application: Application, publisher: Publisher, tmp_path: Path
) -> None:
    unsigned = signed_package(header_rules_at(tmp_path, "1.0.0"), tmp_path / "u", None)
    with pytest.raises(SignatureRefused, match="not signed"):
        distribution(application, publisher).install_file(ADMIN, unsigned)
    tampered = signed_package(header_rules_at(tmp_path, "1.1.0"), tmp_path / "t", publisher)
    tampered.write_bytes(tampered.read_bytes() + b"\0")
    with pytest.raises(SignatureRefused, match="does not match its signature"):
        distribution(application, publisher).install_file(ADMIN, tampered)
    assert application.plugins.list_plugins(ADMIN) == []
    # The operator allows unsigned local files: then it installs.
    allowing = distribution(application, publisher, allow_unsigned_files=True)
    assert allowing.install_file(ADMIN, unsigned).version == "1.0.0"


def test_a_package_for_another_mairust_is_refused(
    application: Application, publisher: Publisher, tmp_path: Path
) -> None:
    directory = header_rules_at(tmp_path, "2.0.0", requires_mairust=">=0.5")
    package = signed_package(directory, tmp_path / "out", publisher)
    with pytest.raises(InvalidInput, match=r"header-rules 2\.0\.0 needs MaiRust >=0\.5; this is"):
        distribution(application, publisher, "0.1.0").install_file(ADMIN, package)
    assert distribution(application, publisher, "0.5.0").install_file(ADMIN, package)


def test_only_the_platform_admin(
    application: Application, publisher: Publisher, tenants: Tenants, tmp_path: Path
) -> None:
    package = signed_package(header_rules_at(tmp_path, "1.0.0"), tmp_path / "out", publisher)
    tenant_admin = Principal(
        Role.TENANT_ADMIN, TenantScope(tenants.a.id), frozenset(Permission), "t", ""
    )
    with pytest.raises(Forbidden):
        distribution(application, publisher).install_file(tenant_admin, package)
    assert application.plugins.list_plugins(ADMIN) == []


async def test_install_and_upgrade_from_the_catalog(
    application: Application, publisher: Publisher, tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog"
    signed_package(header_rules_at(tmp_path, "1.0.0"), catalog, publisher)
    signed_package(header_rules_at(tmp_path, "9.0.0", ">=99"), catalog, publisher)
    catalog_of(catalog)
    source = CatalogSource(str(catalog), tmp_path / "cache", None)
    plugins = distribution(application, publisher)
    assert (await plugins.install_named(ADMIN, source, "header-rules")).version == "1.0.0"
    # The only newer version needs another MaiRust: the upgrade says so, naming both.
    with pytest.raises(CatalogError, match=r"9\.0\.0 needs MaiRust >=99; this is MaiRust 0\.1\.0"):
        await plugins.upgrade_named(ADMIN, source, "header-rules")
    signed_package(header_rules_at(tmp_path, "1.1.0"), catalog, publisher)
    catalog_of(catalog)
    upgrade = await plugins.upgrade_named(ADMIN, source, "header-rules")
    assert (upgrade.upgraded, upgrade.plugin.version) == (True, "1.1.0")
    assert application.plugins.get_plugin(ADMIN, "header-rules").version == "1.1.0"
    with pytest.raises(CatalogError, match=r"and 1\.1\.0 is the newest it runs"):
        await plugins.upgrade_named(ADMIN, source, "header-rules")
    # Without a newer version at all, the installed one is up to date: nothing changes.
    (catalog / "header-rules-9.0.0.tar.gz").unlink()
    catalog_of(catalog)
    again = await plugins.upgrade_named(ADMIN, source, "header-rules")
    assert (again.upgraded, again.plugin.version) == (False, "1.1.0")


async def test_catalog_installs_and_upgrades_never_block_the_event_loop(
    application: Application, publisher: Publisher, tmp_path: Path, monkeypatch
) -> None:
    catalog = tmp_path / "catalog"
    signed_package(header_rules_at(tmp_path, "1.0.0"), catalog, publisher)
    catalog_of(catalog)
    source = CatalogSource(str(catalog), tmp_path / "cache", None)
    plugins = distribution(application, publisher)
    loop_thread = threading.current_thread()
    threads: dict[str, threading.Thread] = {}
    for method in ("install", "upgrade", "get_plugin"):
        real = getattr(application.plugins, method)

        def spy(*args: object, _real: Any = real, _name: str = method) -> Any:
            threads[_name] = threading.current_thread()
            return _real(*args)

        monkeypatch.setattr(application.plugins, method, spy)
    await plugins.install_named(ADMIN, source, "header-rules")
    signed_package(header_rules_at(tmp_path, "1.1.0"), catalog, publisher)
    catalog_of(catalog)
    await plugins.upgrade_named(ADMIN, source, "header-rules")
    assert set(threads) == {"install", "upgrade", "get_plugin"}
    assert all(thread is not loop_thread for thread in threads.values())


async def test_a_catalog_package_must_be_what_the_index_says(
    application: Application, publisher: Publisher, tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog"
    signed_package(header_rules_at(tmp_path, "1.0.0"), catalog, publisher)
    index = catalog_of(catalog)
    # The index (unsigned) is edited to call the signed 1.0.0 package 3.0.0.
    index.write_text(index.read_text().replace('"1.0.0"', '"3.0.0"'))
    source = CatalogSource(str(catalog), tmp_path / "cache", None)
    with pytest.raises(CatalogError, match=r"holds header-rules 1\.0\.0, the catalog index says"):
        await distribution(application, publisher).install_named(ADMIN, source, "header-rules")
    # An index naming another signer than the signature's.
    index.write_text(index.read_text().replace('"3.0.0"', '"1.0.0"').replace('"acme"', '"x"'))
    with pytest.raises(CatalogError, match=r"signed by 'acme', the index says 'x'"):
        await distribution(application, publisher).install_named(ADMIN, source, "header-rules")
    assert application.plugins.list_plugins(ADMIN) == []


async def test_a_catalog_never_installs_unsigned(
    application: Application, publisher: Publisher, tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog"
    package = signed_package(header_rules_at(tmp_path, "1.0.0"), catalog, publisher)
    catalog_of(catalog)
    package.with_name(package.name + ".sig").write_text("")
    source = CatalogSource(str(catalog), tmp_path / "cache", None)
    allowing = distribution(application, publisher, allow_unsigned_files=True)
    with pytest.raises(SignatureRefused, match="malformed"):
        await allowing.install_named(ADMIN, source, "header-rules")
