"""Installing and upgrading plugins from signed packages: package files and the catalog.

A package is verified before anything of it is read: its detached signature against the
operator's trusted keys (an unsigned FILE only when the operator allows it; never from a
catalog). It is then unpacked, as hostile input, into a scratch directory whose manifest
must fit this MaiRust (``requires_mairust``) and, from a catalog, be the name and version
the index promised (the index itself is not signed). From there it goes through
:class:`~mairust.services.plugins.PluginService`'s own install or upgrade, so everything
a directory install checks, records and keeps (a serve plugin's code under the data
directory) holds for packages too. The scratch directory is removed afterwards.

:class:`PluginCatalog` is the configured catalog as the API serves it: its plugins beside
the installed ones, install and upgrade by name.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

import mairust
from mairust.config import PluginsSettings, Settings
from mairust.errors import InvalidInput
from mairust.hooks.manifest import Manifest, load_manifest
from mairust.model.plugins import InstalledPlugin
from mairust.model.principal import Permission, Principal, Role
from mairust.plugin_packages.archive import unpack
from mairust.plugin_packages.catalog import CatalogEntry, CatalogError, CatalogIndex, choose
from mairust.plugin_packages.signing import (
    SignatureRefused,
    TrustedKeys,
    Verified,
    signature_path,
)
from mairust.plugin_packages.source import (
    CACHE_DIRECTORY,
    CatalogSource,
    FetchedPackage,
    catalog_client,
)
from mairust.services.access import require
from mairust.services.plugins import PluginService

_log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CatalogUpgrade:
    plugin: InstalledPlugin
    # False: the installed version is the newest this MaiRust runs; nothing changed.
    upgraded: bool


class PluginDistribution:
    """Package installs over ``plugins``; ``mairust_version`` is what compatibility is
    checked against (this MaiRust's own unless a test says otherwise)."""

    def __init__(
        self,
        plugins: PluginService,
        trusted: TrustedKeys,
        *,
        allow_unsigned_files: bool = False,
        mairust_version: str = mairust.__version__,
    ) -> None:
        self._plugins = plugins
        self._trusted = trusted
        self._allow_unsigned = allow_unsigned_files
        self.mairust_version = mairust_version

    # -- package files -----------------------------------------------------------------
    def install_file(self, principal: Principal, package: Path) -> InstalledPlugin:
        """Installs the package file ``package`` (its signature is ``package.sig``)."""
        _operator(principal)
        verified = self._verify_file(package)
        return self._apply(principal, package, verified, None, None)

    def upgrade_file(self, principal: Principal, name: str, package: Path) -> InstalledPlugin:
        _operator(principal)
        verified = self._verify_file(package)
        return self._apply(principal, package, verified, None, name)

    def _verify_file(self, package: Path) -> Verified:
        if not package.is_file():
            raise InvalidInput(f"{package} is not a package file")
        sig = signature_path(package)
        signature = sig.read_bytes() if sig.is_file() else None
        return self._trusted.verify(package, signature, self._allow_unsigned)

    # -- the catalog -------------------------------------------------------------------
    async def install_named(
        self, principal: Principal, source: CatalogSource, name: str
    ) -> InstalledPlugin:
        """The newest version of ``name`` in the catalog that this MaiRust runs."""
        _operator(principal)
        entry = choose(await source.index(), name, self.mairust_version)
        return await self._from_catalog(principal, source, entry, None)

    async def upgrade_named(
        self, principal: Principal, source: CatalogSource, name: str
    ) -> CatalogUpgrade:
        """To the newest version in the catalog that this MaiRust runs, if newer."""
        installed = await asyncio.to_thread(self._plugins.get_plugin, principal, name)
        entry = choose(await source.index(), name, self.mairust_version, installed.version)
        if entry.parsed_version <= Version(installed.version):
            return CatalogUpgrade(installed, False)
        plugin = await self._from_catalog(principal, source, entry, name)
        return CatalogUpgrade(plugin, True)

    async def _from_catalog(
        self, principal: Principal, source: CatalogSource, entry: CatalogEntry, upgrade: str | None
    ) -> InstalledPlugin:
        fetched = await source.fetch(entry)
        # Hashing, verifying, unpacking and installing (store writes, a deployment) take
        # from milliseconds to seconds: in a thread, never on the API's event loop.
        return await asyncio.to_thread(self._verified_apply, principal, fetched, entry, upgrade)

    def _verified_apply(
        self,
        principal: Principal,
        fetched: FetchedPackage,
        entry: CatalogEntry,
        upgrade: str | None,
    ) -> InstalledPlugin:
        try:
            # Never unsigned from a catalog, whatever the operator allows for local files.
            verified = self._trusted.verify(fetched.path, fetched.signature, allow_unsigned=False)
        except SignatureRefused:
            fetched.path.unlink(missing_ok=True)  # not kept for a second try
            raise
        if verified.signed_by != entry.key_id:
            raise CatalogError(
                f"{entry.file} is signed by {verified.signed_by!r}, the index says {entry.key_id!r}"
            )
        return self._apply(principal, fetched.path, verified, entry, upgrade)

    # -- both --------------------------------------------------------------------------
    def _apply(
        self,
        principal: Principal,
        package: Path,
        verified: Verified,
        entry: CatalogEntry | None,
        upgrade: str | None,
    ) -> InstalledPlugin:
        signer = verified.signed_by or "nobody (unsigned)"
        origin = f"{package.name} (sha256 {verified.sha256}, signed by {signer})"
        with tempfile.TemporaryDirectory(prefix="mairust-package-") as scratch:
            directory = Path(scratch) / "package"
            unpack(package, directory)
            manifest = load_manifest(directory)
            self._check_fits(manifest, entry)
            if upgrade is None:
                plugin = self._plugins.install(principal, str(directory), origin)
            else:
                plugin = self._plugins.upgrade(principal, upgrade, str(directory), origin)
        _log.info("plugin %s %s from %s", plugin.name, plugin.version, origin)
        return plugin

    def _check_fits(self, manifest: Manifest, entry: CatalogEntry | None) -> None:
        info = manifest.plugin
        if entry is not None and (info.name, info.version) != (entry.name, entry.version):
            raise CatalogError(
                f"{entry.file} holds {info.name} {info.version}, the catalog index says "
                f"{entry.name} {entry.version}: refused"
            )
        if not SpecifierSet(info.requires_mairust).contains(self.mairust_version, prereleases=True):
            raise InvalidInput(
                f"{info.name} {info.version} needs MaiRust {info.requires_mairust}; "
                f"this is MaiRust {self.mairust_version}"
            )


@dataclass(frozen=True, slots=True)
class CatalogOffer:
    """One plugin of the catalog as an operator weighs it: its newest version this MaiRust
    runs (the newest of all when none does, ``runs_here`` False), the version installed
    here (None: not installed), and whether the catalog holds a newer one to upgrade to."""

    entry: CatalogEntry
    runs_here: bool
    installed: str | None
    upgradable: bool


@dataclass(frozen=True, slots=True)
class CatalogView:
    location: str  # "": no catalog is configured
    mairust_version: str
    offers: list[CatalogOffer]


class PluginCatalog:
    """The configured catalog (``[plugins] catalog``) for the API: its plugins beside what
    is installed, and install or upgrade by name through :class:`PluginDistribution`. A
    catalog that cannot be read raises
    :class:`~mairust.plugin_packages.source.CatalogUnreachable`."""

    def __init__(
        self,
        plugins: PluginService,
        distribution: PluginDistribution,
        settings: PluginsSettings,
        cache_dir: Path,
    ) -> None:
        self._plugins = plugins
        self._distribution = distribution
        self._settings = settings
        self._cache_dir = cache_dir

    @classmethod
    def from_settings(cls, plugins: PluginService, settings: Settings) -> PluginCatalog:
        distribution = PluginDistribution(
            plugins,
            TrustedKeys.from_config(settings.plugins.trusted_keys),
            allow_unsigned_files=settings.plugins.allow_unsigned_files,
        )
        return cls(plugins, distribution, settings.plugins, settings.data_dir / CACHE_DIRECTORY)

    async def browse(self, principal: Principal, term: str = "") -> CatalogView:
        """One offer per plugin whose name or description holds ``term``, by name; no
        catalog configured is an empty view, not an error."""
        _operator(principal)
        version = self._distribution.mairust_version
        if not self._settings.catalog:
            return CatalogView("", version, [])
        index = await self._with_source(lambda source: source.index())
        listed = await asyncio.to_thread(self._plugins.list_plugins, principal)
        installed = {p.name: p.version for p in listed}
        return CatalogView(
            self._settings.catalog, version, _offers(index, term, installed, version)
        )

    async def install(self, principal: Principal, name: str) -> InstalledPlugin:
        _operator(principal)
        return await self._with_source(
            lambda source: self._distribution.install_named(principal, source, name)
        )

    async def upgrade(self, principal: Principal, name: str) -> CatalogUpgrade:
        _operator(principal)
        return await self._with_source(
            lambda source: self._distribution.upgrade_named(principal, source, name)
        )

    async def _with_source(self, work: Callable[[CatalogSource], Awaitable[T]]) -> T:
        client = catalog_client(self._settings)
        try:
            return await work(CatalogSource(self._settings.catalog, self._cache_dir, client))
        finally:
            await client.aclose()


def _offers(
    index: CatalogIndex, term: str, installed: dict[str, str], mairust_version: str
) -> list[CatalogOffer]:
    by_name: dict[str, list[CatalogEntry]] = {}
    for entry in index.search(term):  # by name, newest first
        by_name.setdefault(entry.name, []).append(entry)
    offers = []
    for name, versions in by_name.items():
        fitting = [entry for entry in versions if entry.supports(mairust_version)]
        entry = fitting[0] if fitting else versions[0]
        here = installed.get(name)
        newer = here is not None and bool(fitting) and _newer(entry, here)
        offers.append(CatalogOffer(entry, bool(fitting), here, newer))
    return offers


def _newer(entry: CatalogEntry, installed: str) -> bool:
    try:
        return entry.parsed_version > Version(installed)
    except InvalidVersion:  # a semantic version PEP 440 cannot read: no upgrade offered
        return False


def _operator(principal: Principal) -> None:
    require(principal, Permission.ADMIN, Role.ADMIN)
