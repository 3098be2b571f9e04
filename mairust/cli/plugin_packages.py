"""``mairust plugin keygen|pack|sign|install|upgrade|search`` and ``mairust plugin catalog
build``: signed plugin packages and the catalog, from the publisher's and the operator's side.

A publisher makes a key pair once (``keygen``), packs a plugin's directory (``pack``),
signs the package (``sign``, a detached ``FILE.sig``) and builds a catalog's index from a
directory of signed packages (``catalog build``). An operator trusts the publisher's key
(``[plugins] trusted_keys``), then installs a directory, a package file or a plugin by name
from the configured catalog (``[plugins] catalog``), and upgrades the same ways. Installs
go through :class:`~mairust.services.plugin_catalog.PluginDistribution` and the platform's
:class:`~mairust.services.plugins.PluginService`, so the checks and the audit log are the
API's. Every refusal is one line on stderr and exit code 1.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.table import Table

import mairust
from mairust.cli.directory import cli_principal
from mairust.cli.options import ConfigOption, DataDirOption, reported_errors, settings_from
from mairust.cli.plugins import console, operator_application, plugin_app
from mairust.config import Settings
from mairust.errors import InvalidInput
from mairust.hooks.manifest import load_manifest
from mairust.plugin_packages.archive import pack
from mairust.plugin_packages.catalog import build_index, write_index
from mairust.plugin_packages.signing import (
    TrustedKeys,
    check_key_id,
    generate_key_pair,
    load_private_key,
    sign_package,
)
from mairust.plugin_packages.source import CACHE_DIRECTORY, CatalogSource, catalog_client
from mairust.services.application import Application
from mairust.services.plugin_catalog import PluginDistribution

catalog_app = typer.Typer(help="A catalog of signed plugin packages: build its index.json.")
_NAME = re.compile(r"[a-z][a-z0-9-]{1,63}")
T = TypeVar("T")


def _distribution(application: Application, settings: Settings) -> PluginDistribution:
    return PluginDistribution(
        application.plugins,
        TrustedKeys.from_config(settings.plugins.trusted_keys),
        allow_unsigned_files=settings.plugins.allow_unsigned_files,
    )


def _with_catalog(settings: Settings, work: Callable[[CatalogSource], Awaitable[T]]) -> T:
    """Runs ``work`` against the configured catalog (its HTTP client closed afterwards)."""

    async def run() -> T:
        client = catalog_client(settings.plugins)
        try:
            source = CatalogSource(
                settings.plugins.catalog, settings.data_dir / CACHE_DIRECTORY, client
            )
            return await work(source)
        finally:
            await client.aclose()

    return asyncio.run(run())


@plugin_app.command("install")
def plugin_install(
    target: Annotated[
        str,
        typer.Argument(
            help="A plugin's directory (with its plugin.toml), a signed package file "
            "(FILE.tar.gz with FILE.tar.gz.sig beside it), or a plugin's name in the catalog "
            "(a path that exists is installed from; anything else is looked up by name).",
            show_default=False,
        ),
    ],
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Install a plugin and bind it at the points it declares.

    A package file's signature is verified against [plugins] trusted_keys first (unsigned
    files only with plugins.allow_unsigned_files). A name installs the newest version in
    the configured catalog that this MaiRust runs, downloaded into the data dir's cache.
    """
    path = Path(target)
    with operator_application(data_dir, config) as application:
        settings = settings_from(data_dir, config)
        if path.is_dir():
            plugin = application.plugins.install(cli_principal(), str(path.resolve()))
        elif path.is_file():
            distribution = _distribution(application, settings)
            plugin = distribution.install_file(cli_principal(), path.resolve())
        elif _NAME.fullmatch(target):
            distribution = _distribution(application, settings)
            plugin = _with_catalog(
                settings, lambda source: distribution.install_named(cli_principal(), source, target)
            )
        else:
            raise InvalidInput(
                f"{target}: no such directory or package file (and not a plugin name)"
            )
    state = "enabled" if plugin.enabled else "installed OFF: configure it first"
    console.print(f"installed [bold]{plugin.name}[/] {plugin.version} ({state})")


@plugin_app.command("upgrade")
def plugin_upgrade(
    name: str,
    source: Annotated[
        str | None,
        typer.Argument(
            help="The new version's directory or signed package file; none: the newest "
            "version in the catalog that this MaiRust runs.",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Replace a plugin by a new version (bindings at points it still declares stay)."""
    with operator_application(data_dir, config) as application:
        settings = settings_from(data_dir, config)
        distribution = _distribution(application, settings)
        if source is None:
            result = _with_catalog(
                settings, lambda catalog: distribution.upgrade_named(cli_principal(), catalog, name)
            )
            if not result.upgraded:
                console.print(
                    f"{name} {result.plugin.version} is the newest version in the catalog "
                    f"for MaiRust {mairust.__version__}: nothing to upgrade"
                )
                return
            plugin = result.plugin
        elif Path(source).is_file():
            plugin = distribution.upgrade_file(cli_principal(), name, Path(source).resolve())
        else:
            plugin = application.plugins.upgrade(cli_principal(), name, str(Path(source).resolve()))
    console.print(f"upgraded [bold]{plugin.name}[/] to {plugin.version}")


@plugin_app.command("search")
def plugin_search(
    term: Annotated[
        str, typer.Argument(help="Only plugins whose name or description holds this.")
    ] = "",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """List the configured catalog's plugins, newest version first, and whether this
    MaiRust runs each."""
    with reported_errors():
        settings = settings_from(data_dir, config)

        async def fetch(source: CatalogSource) -> list[tuple[str, ...]]:
            index = await source.index()
            return [
                (
                    entry.name,
                    entry.version,
                    entry.requires_mairust or "any",
                    "yes" if entry.supports(mairust.__version__) else "no",
                    entry.key_id,
                    entry.description,
                )
                for entry in index.search(term)
            ]

        rows = _with_catalog(settings, fetch)
    table = Table(
        title=f"catalog {settings.plugins.catalog} (this is MaiRust {mairust.__version__})"
    )
    table.add_column("name", no_wrap=True, min_width=max((len(r[0]) for r in rows), default=4))
    for heading in ("version", "needs MaiRust", "runs here", "signed by", "description"):
        table.add_column(heading)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if not rows:
        console.print("no plugin in the catalog matches" if term else "the catalog is empty")


@plugin_app.command("keygen")
def plugin_keygen(
    key_id: Annotated[
        str, typer.Argument(help="The key's id, as operators will trust it (e.g. acme-2026).")
    ],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="The directory to write ID.key and ID.pub to.")
    ] = Path("."),
) -> None:
    """Make an ed25519 key pair for signing plugin packages: ID.key (private, mode 0600:
    keep it secret) and ID.pub (the public key operators add to [plugins] trusted_keys)."""
    with reported_errors():
        key_path, pub_path, public = generate_key_pair(output, key_id)
    console.print(f"private key: {key_path} (keep it secret)\npublic key: {pub_path}")
    console.print("operators trust it with, in [plugins]:", soft_wrap=True, markup=False)
    console.print(f'trusted_keys = {{ {key_id} = "{public}" }}', soft_wrap=True, markup=False)


@plugin_app.command("pack")
def plugin_pack(
    directory: Annotated[Path, typer.Argument(help="The plugin's directory (with plugin.toml).")],
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="The package file; default NAME-VERSION.tar.gz."),
    ] = None,
) -> None:
    """Pack a plugin's directory into a .tar.gz package (deterministic: the same directory
    gives the same bytes; caches and VCS data left out; symbolic links refused)."""
    with reported_errors():
        manifest = load_manifest(directory)
        target = output or Path(f"{manifest.plugin.name}-{manifest.plugin.version}.tar.gz")
        data = pack(directory)
        try:
            target.write_bytes(data)
        except OSError as error:
            raise InvalidInput(f"cannot write {target}: {error}") from None
    console.print(f"packed {manifest.plugin.name} {manifest.plugin.version} into {target}")


@plugin_app.command("sign")
def plugin_sign(
    package: Annotated[Path, typer.Argument(help="The package file to sign.")],
    key: Annotated[Path, typer.Option("--key", help="The private key file (from keygen).")],
    key_id: Annotated[
        str | None,
        typer.Option("--key-id", help="The key's id; default the key file's name without .key."),
    ] = None,
) -> None:
    """Sign a package: writes the detached signature FILE.sig beside it (ed25519 over the
    package's SHA-256). Re-packing or changing the file afterwards breaks the signature."""
    with reported_errors():
        if not package.is_file():
            raise InvalidInput(f"{package} is not a file")
        wanted = check_key_id(key_id or key.name.removesuffix(".key"))
        signature = sign_package(package, load_private_key(key), wanted)
    console.print(f"signed {package} with key {wanted}: {signature}")


@catalog_app.command("build")
def catalog_build(
    directory: Annotated[
        Path, typer.Argument(help="A directory of signed packages (FILE.tar.gz + FILE.tar.gz.sig).")
    ],
) -> None:
    """Write DIRECTORY/index.json describing every signed package in it (name, version,
    description and the MaiRust versions it runs, from its manifest; SHA-256; signing
    key). Serve the directory over http(s), or point [plugins] catalog at it."""
    with reported_errors():
        if not directory.is_dir():
            raise InvalidInput(f"{directory} is not a directory")
        index = build_index(directory)
        target = write_index(directory, index)
    console.print(f"wrote {target}: {len(index.packages)} packages")
